// The API client: the ID token on every request (refreshed and retried once on a 401), the
// contract's error shape as ApiError, and which routes this server offers (from /openapi.json),
// so a screen whose route is not deployed says so instead of failing.

export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

/** "POST /follow-ups/{patient_id}/attempts" -> "POST /follow-ups/{}/attempts" (names of path parameters do not matter). */
export function routeKey(spec) {
  const [method, path] = spec.trim().split(/\s+/, 2);
  return `${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, '{}')}`;
}

export function newIdempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Api {
  constructor(baseUrl, session) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.session = session;
    this.routes = null; // null: unknown, assume every route of the contract exists
  }

  async loadRoutes() {
    try {
      const response = await fetch(`${this.baseUrl}/openapi.json`);
      if (!response.ok) return;
      const doc = await response.json();
      const routes = new Set();
      for (const [path, operations] of Object.entries(doc.paths || {})) {
        for (const method of Object.keys(operations)) routes.add(routeKey(`${method} ${path}`));
      }
      this.routes = routes;
    } catch {
      this.routes = null;
    }
  }

  /** Does this server offer the route ("GET /follow-ups/{patient_id}")? */
  has(spec) {
    return this.routes === null || this.routes.has(routeKey(spec));
  }

  url(path, query) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  async send(method, path, { body, query, headers = {}, raw = false } = {}) {
    const url = this.url(path, query);
    const attempt = async (token) => {
      const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      try {
        return await fetch(url, init);
      } catch {
        throw new ApiError(0, 'network', 'Could not reach the server. Check the connection and try again.');
      }
    };
    let response = await attempt(await this.session.idToken());
    if (response.status === 401) {
      response = await attempt(await this.session.refresh());
      if (response.status === 401) {
        this.session.end('Your session has ended. Sign in again.');
        throw new ApiError(401, 'unauthorized', 'Your session has ended. Sign in again.');
      }
    }
    if (raw && response.ok) return response;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) throw errorFrom(response.status, data);
    return data;
  }

  get(path, query) {
    return this.send('GET', path, { query });
  }

  post(path, body = {}, headers = {}) {
    return this.send('POST', path, { body, headers });
  }

  patch(path, body) {
    return this.send('PATCH', path, { body });
  }

  delete(path) {
    return this.send('DELETE', path);
  }
}

function errorFrom(status, data) {
  if (data && data.error) {
    return new ApiError(status, data.error.code, data.error.message, data.error.fields);
  }
  if (data && data.message === 'Missing Authentication Token') {
    // What API Gateway and `chalice local` answer for a route that is not deployed.
    return new ApiError(status, 'route_missing', 'This server does not offer that yet.');
  }
  if (status >= 500) return new ApiError(status, 'server_error', 'The server had a problem. Try again in a moment.');
  return new ApiError(status, 'error', `The request failed (${status}).`);
}
