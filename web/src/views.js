// The screens: sign in, sign up, confirm, home (upload + my uploads), one upload's page.
import { markDeleted, Gallery } from "./gallery.js";
import { copyText, field, form, formatBytes, formatDate, h, heading, replace, toast } from "./dom.js";
import { customSize } from "./custom.js";
import { FINAL, label, reasons, cardImageOf } from "./status.js";
import { createUploader } from "./upload.js";

const POLL_MS = 1500;

export function signIn(app) {
  return h(
    "section",
    { class: "narrow" },
    heading("Sign in"),
    form(
      "Sign in",
      [
        field("email", "Email", { type: "email", autocomplete: "username", required: true }),
        field("password", "Password", { type: "password", autocomplete: "current-password", required: true }),
      ],
      async (data) => {
        const email = String(data.get("email")).trim();
        try {
          await app.auth.signIn(email, String(data.get("password")));
        } catch (err) {
          if (err.code === "UserNotConfirmedException") {
            app.go(`#/confirm?email=${encodeURIComponent(email)}`);
            toast(err.message);
            return;
          }
          throw err;
        }
        app.go("#/");
      },
      [h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account"))],
    ),
  );
}

/** The user pool's password rule in words, from config.json (the pool's own, never a copy). */
export function passwordRule(policy) {
  if (!policy) return "";
  const needs = [
    policy.requireLowercase && policy.requireUppercase
      ? "upper and lower case letters"
      : policy.requireLowercase
        ? "a lowercase letter"
        : policy.requireUppercase && "an uppercase letter",
    policy.requireDigits && "a digit",
    policy.requireSymbols && "a symbol",
  ].filter(Boolean);
  const tail = needs.length > 1 ? `${needs.slice(0, -1).join(", ")} and ${needs.at(-1)}` : needs[0];
  return `At least ${policy.minLength} characters${tail ? `, with ${tail}` : ""}.`;
}

export function signUp(app) {
  return h(
    "section",
    { class: "narrow" },
    heading("Create an account"),
    form(
      "Create account",
      [
        field("email", "Email", { type: "email", autocomplete: "email", required: true }),
        field("password", "Password", {
          type: "password",
          autocomplete: "new-password",
          required: true,
          minlength: app.config.passwordPolicy?.minLength ?? 1,
          "aria-describedby": "password-help",
        }),
        h("p", { id: "password-help", class: "help" }, passwordRule(app.config.passwordPolicy)),
      ],
      async (data) => {
        const email = String(data.get("email")).trim();
        const result = await app.auth.signUp(email, String(data.get("password")));
        if (result.UserConfirmed) {
          toast("Account created. Sign in.");
          app.go("#/signin");
        } else {
          app.go(`#/confirm?email=${encodeURIComponent(email)}`);
        }
      },
      [h("p", {}, "Have an account? ", h("a", { href: "#/signin" }, "Sign in"))],
    ),
  );
}

export function confirm(app, params) {
  const email = params.get("email") ?? "";
  const resend = h("button", { type: "button", class: "link" }, "Send a new code");
  resend.addEventListener("click", async () => {
    const address = document.getElementById("email").value.trim();
    try {
      await app.auth.resendCode(address);
      toast(`A new code is on its way to ${address}.`);
    } catch (err) {
      toast(err.message);
    }
  });
  return h(
    "section",
    { class: "narrow" },
    heading("Confirm your email"),
    h("p", {}, "We emailed you a code. Enter it here to finish creating your account."),
    form(
      "Confirm",
      [
        field("email", "Email", { type: "email", autocomplete: "username", required: true, value: email }),
        field("code", "Confirmation code", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", required: true }),
      ],
      async (data) => {
        await app.auth.confirm(String(data.get("email")).trim(), String(data.get("code")).trim());
        toast("Email confirmed. Sign in.");
        app.go("#/signin");
      },
      [h("p", {}, resend)],
    ),
  );
}

export function home(app) {
  const gallery = new Gallery(app.api);
  const dropzone = h("div", { class: "uploader" });
  const section = h(
    "div",
    {},
    heading("Upload photos"),
    h("p", { class: "lead" }, "Drop photos here or browse; each one is resized, cropped and converted for the web."),
    dropzone,
    h("h2", { id: "my-uploads" }, "My uploads"),
    gallery.el,
  );
  const uppy = createUploader(dropzone, {
    api: app.api,
    limits: { maxBytes: app.config.maxBytes, acceptedTypes: app.config.acceptedTypes },
    onUploaded: (upload) => gallery.added(upload),
  });
  gallery.load();
  app.onLeave(() => {
    gallery.close();
    uppy.destroy();
  });
  return section;
}

export function detail(app, id) {
  const root = h("section", { class: "detail" }, heading("Loading…"));
  let timer = 0;
  let closed = false;
  app.onLeave(() => {
    closed = true;
    clearTimeout(timer);
  });

  async function refresh() {
    let view;
    try {
      view = await app.api.status(id);
    } catch (err) {
      if (closed) return;
      replace(root, heading(err.status === 404 ? "Not found" : "Something went wrong"),
        h("p", { role: "alert" }, err.status === 404 ? "This upload does not exist, or it was deleted." : err.message),
        h("p", {}, h("a", { href: "#/" }, "Back to my uploads")));
      return;
    }
    if (closed) return;
    render(view);
    if (!FINAL.has(view.status)) timer = setTimeout(refresh, POLL_MS);
  }

  function render(view) {
    const thumb = cardImageOf(view);
    const why = reasons(view);
    const first = !root.querySelector(".facts");
    replace(
      root,
      h("p", {}, h("a", { href: "#/" }, "← My uploads")),
      heading(view.filename),
      h("p", { class: "state" }, h("span", { class: `badge ${view.status}` }, label(view.status))),
      why.length ? h("p", { class: "reason" }, why.join(" ")) : null,
      h(
        "div",
        { class: "detail-top" },
        h(
          "div",
          { class: "thumb large" },
          thumb
            ? h("img", { src: thumb.url, alt: `Preview of ${view.filename}`, width: thumb.width, height: thumb.height })
            : h("span", { class: "placeholder", "aria-hidden": "true" }),
        ),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Size"),
          h("dd", {}, formatBytes(view.size)),
          view.width ? [h("dt", {}, "Dimensions"), h("dd", {}, `${view.width} × ${view.height}`)] : null,
          view.content_type ? [h("dt", {}, "Type"), h("dd", {}, view.content_type)] : null,
          h("dt", {}, "Uploaded"),
          h("dd", {}, formatDate(view.created_at)),
        ),
      ),
      variantsTable(view),
      snippet("srcset", "srcset", view.srcset),
      snippet("picture", "<picture> snippet", view.picture),
      customSize(app, view),
      deleteControl(app, view),
    );
    if (first) root.querySelector("h1").focus();
  }

  refresh();
  return root;
}

function variantsTable(view) {
  if (!view.variants?.length) return h("p", {}, FINAL.has(view.status) ? "No variants." : "Variants appear here when they are ready.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "variants" },
      h("caption", {}, "Variants"),
      h("thead", {}, h("tr", {}, ["Variant", "Format", "Dimensions", "Size", "Link"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        view.variants.map((v) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, `${v.processor} ${v.name}`),
            h("td", {}, v.format),
            h("td", {}, `${v.width} × ${v.height}`),
            h("td", {}, formatBytes(v.bytes)),
            h(
              "td",
              {},
              h("button", {
                type: "button",
                class: "secondary small",
                "aria-label": `Copy URL of ${v.processor} ${v.name}`,
                onclick: () => copyText(v.url),
              }, "Copy URL"),
            ),
          ),
        ),
      ),
    ),
  );
}

function snippet(id, title, text) {
  if (!text) return null;
  const area = h("textarea", { id: `snippet-${id}`, readonly: true, rows: id === "picture" ? 5 : 3 });
  area.value = text;
  return h(
    "div",
    { class: "snippet" },
    h("label", { for: `snippet-${id}` }, title),
    area,
    h("button", { type: "button", class: "secondary", onclick: () => copyText(text, area) }, `Copy ${title}`),
  );
}

function deleteControl(app, view) {
  const dialog = h(
    "dialog",
    { "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete this photo?"),
    h("p", {}, `${view.filename} and all its variants will be deleted. This cannot be undone.`),
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { type: "submit", value: "cancel", class: "secondary", autofocus: true }, "Cancel"),
      h("button", { type: "submit", value: "delete", class: "danger" }, "Delete"),
    ),
  );
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await app.api.remove(view.id);
      markDeleted(view.id);
      toast(`Deleted ${view.filename}.`);
      app.go("#/");
    } catch (err) {
      toast(err.message);
    }
  });
  const open = h("button", { type: "button", class: "danger", onclick: () => dialog.showModal() }, "Delete…");
  return h("div", { class: "delete" }, open, dialog);
}
