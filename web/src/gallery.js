// "My uploads": the caller's uploads, newest first. Each card reserves its final size from the
// start (no layout shift as card images arrive) and polls its status until it is final.
import { h, replace } from "./dom.js";
import { FINAL, label, reasons, cardImageOf } from "./status.js";

const POLL_FIRST_MS = 800;
const POLL_MAX_MS = 5000;
const DELETED_KEY = "imgpipe.deleted";

/** Ids deleted in this tab: the list route may show an upload for a moment after its deletion
 * (until the pipeline has recorded it), and the page must not bring it back. */
export function markDeleted(id) {
  const ids = deletedIds();
  ids.add(id);
  sessionStorage.setItem(DELETED_KEY, JSON.stringify([...ids]));
}

function deletedIds() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(DELETED_KEY) ?? "[]"));
  } catch {
    return new Set();
  }
}

export class Gallery {
  constructor(api) {
    this.api = api;
    this.cards = new Map();
    this.timers = new Set();
    this.closed = false;
    this.cursor = null;
    this.list = h("ul", { class: "gallery", "aria-label": "My uploads" });
    this.empty = h("p", { class: "empty", hidden: true }, "No uploads yet. Add photos above.");
    this.more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.load() }, "Show more");
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.el = h("div", {}, this.error, this.empty, this.list, this.more);
  }

  async load() {
    this.more.disabled = true;
    try {
      const page = await this.api.list(this.cursor);
      const hidden = deletedIds();
      for (const upload of page.uploads) {
        if (!hidden.has(upload.id) && !this.cards.has(upload.id)) this.#add(upload, "end");
      }
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.error.hidden = true;
    } catch (err) {
      this.error.textContent = err.message;
      this.error.hidden = false;
    } finally {
      this.more.disabled = false;
      this.empty.hidden = this.cards.size > 0;
    }
  }

  /** An upload that has just reached S3: its card goes first, processing. */
  added(upload) {
    if (this.cards.has(upload.id)) return;
    this.#add({ ...upload, status: "processing" }, "start");
    this.empty.hidden = true;
  }

  close() {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  #add(upload, where) {
    const card = new Card(upload);
    this.cards.set(upload.id, card);
    if (where === "start") this.list.prepend(card.el);
    else this.list.append(card.el);
    this.#poll(card, 0);
  }

  #poll(card, delay) {
    const timer = setTimeout(async () => {
      this.timers.delete(timer);
      if (this.closed) return;
      try {
        const view = await this.api.status(card.id);
        if (this.closed) return;
        card.show(view);
        if (!FINAL.has(view.status)) this.#poll(card, Math.min(Math.max(delay * 1.5, POLL_FIRST_MS), POLL_MAX_MS));
      } catch (err) {
        if (err.status === 404) {
          // deleted elsewhere (another tab, the CLI): it is gone
          card.el.remove();
          this.cards.delete(card.id);
          this.empty.hidden = this.cards.size > 0;
        } else if (err.status !== 401) {
          this.#poll(card, POLL_MAX_MS);
        }
      }
    }, delay);
    this.timers.add(timer);
  }
}

class Card {
  constructor(upload) {
    this.id = upload.id;
    this.thumb = h("div", { class: "thumb" }, h("span", { class: "placeholder", "aria-hidden": "true" }));
    this.state = h("span", { class: "badge" });
    this.reason = h("p", { class: "reason" });
    this.name = h("span", { class: "name" }, upload.filename ?? "");
    this.el = h(
      "li",
      { class: "card", "data-id": upload.id },
      h("a", { href: `#/uploads/${encodeURIComponent(upload.id)}`, class: "card-link" }, this.thumb, this.name),
      h("p", { class: "state" }, this.state),
      this.reason,
    );
    this.#status(upload.status);
  }

  show(view) {
    this.name.textContent = view.filename;
    this.#status(view.status);
    replace(this.reason, reasons(view).join(" "));
    const thumb = cardImageOf(view);
    const img = this.thumb.querySelector("img");
    if (thumb && img?.getAttribute("src") !== thumb.url) {
      replace(
        this.thumb,
        h("img", { src: thumb.url, alt: "", width: thumb.width, height: thumb.height, decoding: "async" }),
      );
    }
  }

  #status(status) {
    this.el.dataset.status = status;
    this.state.textContent = label(status);
    this.state.className = `badge ${status}`;
  }
}
