// What an upload's status (GET /api/uploads/{id}) means to a person.

const LABELS = {
  uploading: "Uploading…",
  processing: "Processing…",
  completed: "Ready",
  partial: "Partly ready",
  rejected: "Rejected",
  held: "Held for review",
};

export const FINAL = new Set(["completed", "partial", "rejected"]);

export function label(status) {
  return LABELS[status] ?? status;
}

/** The rejection reasons in plain words, once each (three processors refusing a text file say
 * the same thing). */
export function reasons(view) {
  const messages = (view.processors ?? [])
    .filter((p) => p.state === "rejected" && p.message)
    .map((p) => p.message);
  return [...new Set(messages)];
}

/** The role of the small crops a card shows (each variant carries its declared role). */
const CARD_ROLE = "preview";

/** The variant a card shows: the smallest card-role image that still fills a card, else the
 * smallest variant of any kind. */
export function cardImageOf(view) {
  const variants = [...(view.variants ?? [])].sort((a, b) => a.width - b.width);
  const thumbs = variants.filter((v) => v.role === CARD_ROLE);
  return thumbs.find((v) => v.width >= 200) ?? thumbs.at(-1) ?? variants.find((v) => v.width >= 200) ?? variants[0];
}
