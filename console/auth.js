// Signing in with Cognito straight from the browser: InitiateAuth USER_PASSWORD_AUTH, then
// REFRESH_TOKEN_AUTH before the ID token expires, and sign-out. Tokens live in sessionStorage
// (one tab's session, gone when the tab closes).

const STORAGE_KEY = 'followups.session.v1';
const REFRESH_AHEAD_MS = 5 * 60 * 1000; // refresh five minutes before the ID token expires
const MIN_VALIDITY_MS = 60 * 1000; // never send a token with less than a minute left

export class AuthError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const FRIENDLY = {
  NotAuthorizedException: 'Incorrect email or password.',
  UserNotFoundException: 'Incorrect email or password.',
  UserNotConfirmedException: 'This account is not confirmed yet. Ask the clinic owner.',
  PasswordResetRequiredException: 'This account must reset its password first. Ask the clinic owner.',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: 'Too many attempts. Wait a minute and try again.',
};

/** The claims of a JWT (no verification: the API verifies; this only reads `exp` and `email`). */
export function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    return JSON.parse(decodeURIComponent(Array.from(json, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')));
  } catch {
    return {};
  }
}

export class Session {
  constructor(config, storage = window.sessionStorage) {
    this.config = config;
    this.storage = storage;
    this.tokens = this.load();
    this.timer = null;
    this.refreshing = null;
    this.onEnd = () => {};
    if (this.tokens) this.schedule();
  }

  load() {
    try {
      const saved = JSON.parse(this.storage.getItem(STORAGE_KEY) || 'null');
      return saved && saved.idToken && saved.refreshToken ? saved : null;
    } catch {
      return null;
    }
  }

  save() {
    if (this.tokens) this.storage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    else this.storage.removeItem(STORAGE_KEY);
  }

  get signedIn() {
    return Boolean(this.tokens);
  }

  get expiresAt() {
    return this.tokens ? (jwtClaims(this.tokens.idToken).exp || 0) * 1000 : 0;
  }

  async cognito(action, payload) {
    let response;
    try {
      response = await fetch(this.config.cognito_endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(payload),
      });
    } catch {
      throw new AuthError('network', 'Could not reach the sign-in service. Check the connection and try again.');
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const type = String(data.__type || 'Error').split('#').pop();
      throw new AuthError(type, FRIENDLY[type] || data.message || `Sign-in failed (${response.status}).`);
    }
    return data;
  }

  store(result, refreshToken) {
    this.tokens = {
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || refreshToken,
    };
    this.save();
    this.schedule();
  }

  async signIn(email, password) {
    const out = await this.cognito('InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.config.user_pool_client_id,
      AuthParameters: { USERNAME: email.trim(), PASSWORD: password },
    });
    if (!out.AuthenticationResult) {
      throw new AuthError(out.ChallengeName || 'challenge',
        'This account has to finish setting up (for example, choose a new password). Ask the clinic owner.');
    }
    this.store(out.AuthenticationResult);
  }

  /** One refresh at a time; every caller waiting gets the same new ID token. */
  refresh() {
    if (!this.tokens) return Promise.reject(new AuthError('signed_out', 'Signed out.'));
    if (!this.refreshing) {
      const { refreshToken } = this.tokens;
      this.refreshing = this.cognito('InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: this.config.user_pool_client_id,
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      }).then((out) => {
        this.store(out.AuthenticationResult, refreshToken);
        return this.tokens.idToken;
      }, (error) => {
        if (error.code !== 'network') this.end('Your session has ended. Sign in again.');
        throw error;
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  schedule() {
    clearTimeout(this.timer);
    if (!this.tokens) return;
    const wait = Math.max(this.expiresAt - REFRESH_AHEAD_MS - Date.now(), 5000);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  /** A valid ID token, refreshed first when it is about to expire. */
  async idToken() {
    if (!this.tokens) throw new AuthError('signed_out', 'Signed out.');
    if (this.expiresAt - Date.now() < MIN_VALIDITY_MS) return this.refresh();
    return this.tokens.idToken;
  }

  end(reason) {
    clearTimeout(this.timer);
    this.tokens = null;
    this.save();
    this.onEnd(reason);
  }

  /** Forget the tokens here and revoke the refresh token at Cognito (best effort). */
  signOut() {
    const tokens = this.tokens;
    this.end(null);
    if (tokens && tokens.refreshToken) {
      this.cognito('RevokeToken', { ClientId: this.config.user_pool_client_id, Token: tokens.refreshToken })
        .catch(() => {});
    }
  }
}
