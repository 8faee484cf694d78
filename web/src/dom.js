// A tiny element builder: text is always set as text (never parsed as HTML), and no style
// attribute is ever written (the CSP allows only the bundled stylesheet).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "style") {
      throw new Error("inline styles break the page's CSP: use a class");
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let toastTimer = 0;
/** A short message in the page's polite live region (screen readers announce it). */
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 4000);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Copies text; falls back to selecting it in a field when the clipboard API is refused. */
export async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied to the clipboard.");
  } catch {
    if (field) {
      field.focus();
      field.select();
    }
    toast("Press Ctrl+C (or ⌘C) to copy the selected text.");
  }
}

export function field(id, text, attrs) {
  return h("div", { class: "field" }, h("label", { for: id }, text), h("input", { id, name: id, ...attrs }));
}

export function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

/** A form whose submit runs ``action``; errors are shown in a live alert, the button waits. */
export function form(label, fields, action, extra = []) {
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, label);
  const el = h("form", { class: "panel", novalidate: false }, ...fields, error, button, ...extra);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await action(new FormData(el));
    } catch (err) {
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return el;
}
