// Signing in with Cognito straight from the browser: InitiateAuth USER_PASSWORD_AUTH and the
// challenges it may answer with (NEW_PASSWORD_REQUIRED on a first sign-in, SOFTWARE_TOKEN_MFA
// once the user has turned on an authenticator app), ForgotPassword / ConfirmForgotPassword,
// TOTP enrolment (AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference), then
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
  PasswordResetRequiredException: 'This account must reset its password first: use "Forgot password?".',
  TooManyRequestsException: 'Too many attempts. Wait a minute and try again.',
  LimitExceededException: 'Too many attempts. Wait a minute and try again.',
  CodeMismatchException: 'That code is not right. Check it and try again.',
  ExpiredCodeException: 'That code has expired. Ask for a new one.',
  EnableSoftwareTokenMFAException: 'That code is not right. Check it and try again.',
  InvalidPasswordException: 'That password does not meet the rules.',
};

/** The pool's password rules (config.json `password_policy`) as [label, test] pairs. */
export function passwordRules(policy = {}) {
  const rules = [[`At least ${policy.MinimumLength || 8} characters`, (p) => p.length >= (policy.MinimumLength || 8)]];
  if (policy.RequireUppercase) rules.push(['An upper-case letter', (p) => /[A-Z]/.test(p)]);
  if (policy.RequireLowercase) rules.push(['A lower-case letter', (p) => /[a-z]/.test(p)]);
  if (policy.RequireNumbers) rules.push(['A number', (p) => /[0-9]/.test(p)]);
  if (policy.RequireSymbols) rules.push(['A symbol, such as ! or -', (p) => /[^A-Za-z0-9\s]/.test(p)]);
  return rules;
}

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

  /** Signs in, or answers the challenge Cognito asks next: {name, session, username}. */
  async signIn(email, password) {
    const username = email.trim();
    const out = await this.cognito('InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.config.user_pool_client_id,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    return this.finish(out, username);
  }

  finish(out, username) {
    if (out.AuthenticationResult) {
      this.store(out.AuthenticationResult);
      return null;
    }
    if (out.ChallengeName === 'NEW_PASSWORD_REQUIRED' || out.ChallengeName === 'SOFTWARE_TOKEN_MFA') {
      return { name: out.ChallengeName, session: out.Session, username };
    }
    throw new AuthError(out.ChallengeName || 'challenge',
      'This account has to finish a sign-in step the console does not offer. Ask the clinic owner.');
  }

  async answer(challenge, responses) {
    const out = await this.cognito('RespondToAuthChallenge', {
      ChallengeName: challenge.name,
      ClientId: this.config.user_pool_client_id,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, ...responses },
    });
    return this.finish(out, challenge.username);
  }

  /** First sign-in: the temporary password is replaced by the user's own. */
  newPassword(challenge, password) {
    return this.answer(challenge, { NEW_PASSWORD: password });
  }

  /** The authenticator app's six digits. */
  mfaCode(challenge, code) {
    return this.answer(challenge, { SOFTWARE_TOKEN_MFA_CODE: code.replace(/\s+/g, '') });
  }

  forgotPassword(email) {
    return this.cognito('ForgotPassword', { ClientId: this.config.user_pool_client_id, Username: email.trim() });
  }

  confirmForgotPassword(email, code, password) {
    return this.cognito('ConfirmForgotPassword', {
      ClientId: this.config.user_pool_client_id, Username: email.trim(), ConfirmationCode: code.trim(), Password: password,
    });
  }

  /** TOTP enrolment, with the signed-in user's access token: the secret to put in an app. */
  async associateSoftwareToken() {
    await this.idToken(); // refreshed first if it is about to expire (the access token with it)
    return (await this.cognito('AssociateSoftwareToken', { AccessToken: this.tokens.accessToken })).SecretCode;
  }

  /** Checks a first code from the app, then makes the app the user's second sign-in step. */
  async enableSoftwareToken(code) {
    await this.idToken();
    await this.cognito('VerifySoftwareToken', {
      AccessToken: this.tokens.accessToken, UserCode: code.replace(/\s+/g, ''), FriendlyDeviceName: 'Authenticator app',
    });
    await this.cognito('SetUserMFAPreference', {
      AccessToken: this.tokens.accessToken, SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
    });
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
