// The "custom size" builder of an upload's page: width, height, fit and format become a signed
// transform URL from the API (POST /api/uploads/{id}/transforms, docs/transforms.md), shown with a
// button to copy it and a preview loaded from the URL itself. The bounds are the API's: a value it
// refuses comes back as its 400 message, shown under the form.
import { copyText, field, form, h, replace } from "./dom.js";

// Only a finished, unheld upload can be rendered (the API answers 409 otherwise).
const RENDERABLE = new Set(["completed", "partial"]);

const FITS = [
  ["inside", "Inside (whole photo)"],
  ["cover", "Cover (fill, crop)"],
  ["contain", "Contain (whole, padded)"],
];
const FORMATS = [
  ["auto", "Automatic (by browser)"],
  ["webp", "WebP"],
  ["avif", "AVIF"],
  ["jpeg", "JPEG"],
  ["png", "PNG"],
];

function choice(id, text, options) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, text),
    h("select", { id, name: id }, options.map(([value, name]) => h("option", { value }, name))),
  );
}

/** The API's request body from the form: empty sides are left out (one side keeps the ratio). */
export function transformRequest(data) {
  const body = { fit: String(data.get("fit")), format: String(data.get("format")) };
  for (const side of ["width", "height"]) {
    const text = String(data.get(side) ?? "").trim();
    if (text) body[side] = Number(text);
  }
  return body;
}

function result(url, filename) {
  const output = h("input", { id: "custom-url", type: "text", readonly: true, value: url });
  const caption = h("figcaption", {}, "Loading the preview…");
  const preview = h("img", { src: url, alt: `Custom size of ${filename}`, class: "custom-preview" });
  preview.addEventListener("load", () => {
    caption.textContent = `Preview: ${preview.naturalWidth} × ${preview.naturalHeight} pixels`;
  });
  preview.addEventListener("error", () => {
    caption.textContent = "The preview did not load. The URL may be too large to show here; open it in a new tab.";
  });
  return [
    h(
      "div",
      { class: "snippet" },
      h("label", { for: "custom-url" }, "Signed URL"),
      output,
      h("button", { type: "button", class: "secondary", onclick: () => copyText(url, output) }, "Copy signed URL"),
    ),
    h("figure", { class: "custom-figure" }, preview, caption),
  ];
}

export function customSize(app, view) {
  if (!RENDERABLE.has(view.status)) return null;
  const shown = h("div", { class: "custom-result", "aria-live": "polite" });
  const sides = { type: "number", min: 1, step: 1, inputmode: "numeric" };
  const builder = form(
    "Get a signed URL",
    [
      h("div", { class: "custom-fields" },
        field("width", "Width (pixels)", { ...sides, value: 640 }),
        field("height", "Height (pixels)", sides),
        choice("fit", "Fit", FITS),
        choice("format", "Format", FORMATS)),
    ],
    async (data) => {
      replace(shown);
      const signed = await app.api.transform(view.id, transformRequest(data));
      replace(shown, result(signed.url, view.filename));
    },
  );
  return h(
    "section",
    { class: "custom", "aria-labelledby": "custom-title" },
    h("h2", { id: "custom-title" }, "Custom size"),
    h(
      "p",
      { class: "help" },
      "Any size, fit and format of this photo, at a URL anyone can open and any page can embed. " +
        "Leave a side empty to keep the proportions. Cover crops around the detail; contain pads; " +
        "automatic picks AVIF, WebP or JPEG by what each browser takes.",
    ),
    builder,
    shown,
  );
}
