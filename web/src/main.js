// The page: reads /config.json (never hard-coded ids), then routes on the URL's hash.
import { Api } from "./api.js";
import { Auth } from "./auth.js";
import { h, replace } from "./dom.js";
import { confirm, detail, home, signIn, signUp } from "./views.js";

class App {
  constructor(config) {
    this.config = config;
    this.auth = new Auth(config);
    this.api = new Api(config, this.auth, () => {
      this.auth.signOut();
      this.go("#/signin");
    });
    this.main = document.getElementById("main");
    this.leaving = [];
    document.getElementById("signout").addEventListener("click", () => {
      this.auth.signOut();
      this.go("#/signin");
    });
    window.addEventListener("hashchange", () => this.route());
  }

  go(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  onLeave(fn) {
    this.leaving.push(fn);
  }

  route() {
    for (const fn of this.leaving.splice(0)) fn();
    const [path, query] = (location.hash.slice(1) || "/").split("?");
    const params = new URLSearchParams(query ?? "");
    const publicScreens = { "/signin": signIn, "/signup": signUp, "/confirm": confirm };
    let view;
    if (publicScreens[path]) {
      view = publicScreens[path](this, params);
    } else if (!this.auth.signedIn) {
      this.go("#/signin");
      return;
    } else if (path.startsWith("/uploads/")) {
      view = detail(this, decodeURIComponent(path.slice("/uploads/".length)));
    } else {
      view = home(this);
    }
    const nav = document.getElementById("nav");
    nav.hidden = !this.auth.signedIn;
    document.getElementById("who").textContent = this.auth.email;
    replace(this.main, view);
    const title = this.main.querySelector("h1");
    document.title = title && title.textContent !== "Loading…" ? `${title.textContent} · imgpipe` : "imgpipe";
    title?.focus();
  }
}

async function start() {
  let config;
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    config = await response.json();
  } catch (err) {
    replace(
      document.getElementById("main"),
      h("h1", {}, "imgpipe is not configured"),
      h("p", { role: "alert" }, `The page could not read its configuration (${err.message}).`),
    );
    return;
  }
  new App(config).route();
}

start();
