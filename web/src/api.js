// The upload API (docs/api.md), called with the signed-in user's ID token. A 429 (the caller's
// request rate, or the gateway's throttling) is waited out as its Retry-After says, then retried.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A 429 is retried this many times; the wait is Retry-After's (else a doubling backoff), capped.
const MAX_RETRIES_ON_429 = 4;
const MAX_WAIT_MS = 60_000;
// The daily upload quota's 429 (docs/api.md) is not waited out: its Retry-After is hours away.
const NOT_RETRIED = new Set(["quota_exceeded"]);

export function retryDelayMs(response, attempt) {
  const seconds = Number(response.headers.get("Retry-After"));
  const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000 * 2 ** attempt;
  // a little jitter, so that the cards of one page do not all come back in the same instant
  return Math.min(ms, MAX_WAIT_MS) + Math.floor(Math.random() * 250);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Api {
  constructor(config, auth, onUnauthorized, { wait = sleep } = {}) {
    this.base = (config.apiBase ?? "/api").replace(/\/$/, "");
    this.auth = auth;
    this.onUnauthorized = onUnauthorized;
    this.wait = wait;
  }

  async call(method, path, body) {
    for (let attempt = 0; ; attempt += 1) {
      const { response, data } = await this.#send(method, path, body);
      if (response.status === 429 && attempt < MAX_RETRIES_ON_429 && !NOT_RETRIED.has(data?.error?.code)) {
        await this.wait(retryDelayMs(response, attempt));
        continue;
      }
      return this.#result(response, data);
    }
  }

  async #send(method, path, body) {
    const headers = { Authorization: `Bearer ${await this.auth.token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "Cannot reach imgpipe. Check your connection.");
    }
    const data = await response.json().catch(() => null);
    return { response, data };
  }

  #result(response, data) {
    if (response.status === 401) {
      this.onUnauthorized();
      throw new ApiError(401, "Your session has ended. Sign in again.");
    }
    if (!response.ok) {
      const message = data?.error?.message ?? data?.message ?? `The request failed (${response.status}).`;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  list(cursor) {
    const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    return this.call("GET", `/uploads${query}`);
  }

  status(id) {
    return this.call("GET", `/uploads/${encodeURIComponent(id)}`);
  }

  /** A signed on-demand transform URL of one's own upload (docs/transforms.md): ``{url}``. */
  transform(id, body) {
    return this.call("POST", `/uploads/${encodeURIComponent(id)}/transforms`, body);
  }

  remove(id) {
    return this.call("DELETE", `/uploads/${encodeURIComponent(id)}`);
  }
}
