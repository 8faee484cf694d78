// The upload API (docs/api.md), called with the signed-in user's ID token.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  constructor(config, auth, onUnauthorized) {
    this.base = (config.apiBase ?? "/api").replace(/\/$/, "");
    this.auth = auth;
    this.onUnauthorized = onUnauthorized;
  }

  async call(method, path, body) {
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

  remove(id) {
    return this.call("DELETE", `/uploads/${encodeURIComponent(id)}`);
  }
}
