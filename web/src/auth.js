// Sign-in against the stack's Cognito user pool with plain fetch to its JSON API (the page has
// no AWS SDK): InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH), SignUp, ConfirmSignUp,
// ResendConfirmationCode, RevokeToken (sign-out). The endpoint comes from config.json: Cognito's regional endpoint on
// AWS, moto's locally.

const STORE_KEY = "imgpipe.session";
// Refresh the ID token this long before it expires, so a request never carries a stale one.
const REFRESH_MARGIN_MS = 60_000;

const PLAIN = {
  NotAuthorizedException: "Wrong email or password.",
  UserNotFoundException: "Wrong email or password.",
  UserNotConfirmedException: "This account is not confirmed yet: enter the code we emailed you.",
  UsernameExistsException: "An account with this email already exists. Sign in instead.",
  CodeMismatchException: "That code is not right. Check the email and try again.",
  ExpiredCodeException: "That code has expired. Ask for a new one.",
  LimitExceededException: "Too many attempts. Wait a few minutes and try again.",
  TooManyRequestsException: "Too many attempts. Wait a few minutes and try again.",
  TooManyFailedAttemptsException: "Too many attempts. Wait a few minutes and try again.",
};

export class AuthError extends Error {
  constructor(code, message) {
    super(PLAIN[code] ?? message ?? "Sign-in failed. Try again.");
    this.code = code;
  }
}

export class Auth {
  constructor(config) {
    this.config = config;
    this.session = readSession();
  }

  get signedIn() {
    return this.session !== null;
  }

  get email() {
    return this.session?.email ?? "";
  }

  async #call(action, body) {
    let response;
    try {
      response = await fetch(this.config.authEndpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify({ ClientId: this.config.userPoolClientId, ...body }),
      });
    } catch {
      throw new AuthError("NetworkError", "Cannot reach the sign-in service. Check your connection.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      // "__type" is "NotAuthorizedException" or "...#NotAuthorizedException"
      const code = String(data.__type ?? data.code ?? "").split("#").pop();
      throw new AuthError(code, data.message ?? data.Message);
    }
    return data;
  }

  async signIn(email, password) {
    const data = await this.#call("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    if (!data.AuthenticationResult) {
      // a challenge (a new password required, MFA) the page does not handle
      throw new AuthError(data.ChallengeName, "This account needs a step this page does not offer yet.");
    }
    this.#keep(email, data.AuthenticationResult);
  }

  signUp(email, password) {
    return this.#call("SignUp", {
      Username: email,
      Password: password,
      UserAttributes: [{ Name: "email", Value: email }],
    });
  }

  confirm(email, code) {
    return this.#call("ConfirmSignUp", { Username: email, ConfirmationCode: code });
  }

  resendCode(email) {
    return this.#call("ResendConfirmationCode", { Username: email });
  }

  /** A valid ID token for the API, refreshed when close to expiry. */
  async token() {
    if (!this.session) throw new AuthError("NotSignedIn", "Sign in first.");
    if (Date.now() > this.session.expiresAt - REFRESH_MARGIN_MS) {
      const data = await this.#call("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        AuthParameters: { REFRESH_TOKEN: this.session.refreshToken },
      });
      this.#keep(this.session.email, { ...data.AuthenticationResult, RefreshToken: this.session.refreshToken });
    }
    return this.session.idToken;
  }

  /** Ends the session here and revokes its refresh token at Cognito (it would otherwise mint
   * new tokens for 30 days wherever a copy of it is). The session is gone even if the revocation
   * cannot be sent (offline): the page forgets it either way. */
  async signOut() {
    const refreshToken = this.session?.refreshToken;
    this.session = null;
    sessionStorage.removeItem(STORE_KEY);
    if (refreshToken) {
      await this.#call("RevokeToken", { Token: refreshToken }).catch(() => {});
    }
  }

  #keep(email, result) {
    this.session = {
      email,
      idToken: result.IdToken,
      refreshToken: result.RefreshToken,
      expiresAt: Date.now() + (result.ExpiresIn ?? 3600) * 1000,
    };
    // sessionStorage: the tab keeps the session across reloads; closing it signs out.
    sessionStorage.setItem(STORE_KEY, JSON.stringify(this.session));
  }
}

function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
    return s && s.idToken && s.refreshToken ? s : null;
  } catch {
    return null;
  }
}
