// The API client: the ID token on every request (refreshed and retried once on a 401), the
// contract's error shape as ApiError, and what the server's /openapi.json says, read once at
// start-up: which routes it offers (so a screen whose route is not deployed says so instead of
// failing) and its vocabulary (statuses, methods, channels, ...: the console keeps no copy).

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
    this.routes = new Set();
  }

  /** Reads /openapi.json (public, no token): the routes this server offers, and its Vocabulary. */
  async loadContract() {
    let doc;
    try {
      const response = await fetch(`${this.baseUrl}/openapi.json`);
      if (!response.ok) throw new Error(`it answered ${response.status}`);
      doc = await response.json();
    } catch (error) {
      throw new ApiError(0, 'no_contract', `The API's description (/openapi.json) could not be read: ${error.message}`);
    }
    const routes = new Set();
    for (const [path, operations] of Object.entries(doc.paths || {})) {
      for (const method of Object.keys(operations)) routes.add(routeKey(`${method} ${path}`));
    }
    this.routes = routes;
    return new Vocabulary(doc);
  }

  /** Does this server offer the route ("GET /follow-ups/{patient_id}")? */
  has(spec) {
    return this.routes.has(routeKey(spec));
  }

  url(path, query) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  async send(method, path, { body, query, headers = {}, raw = false, textBody, type } = {}) {
    const url = this.url(path, query);
    const attempt = async (token) => {
      const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      } else if (textBody !== undefined) {
        init.headers['Content-Type'] = type;
        init.body = textBody;
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

  /** A body that is not JSON (a CSV for POST /imports), sent as `type`. */
  sendText(method, path, text, type) {
    return this.send(method, path, { textBody: text, type });
  }
}

function errorFrom(status, data) {
  if (data && data.error) {
    const error = new ApiError(status, data.error.code, data.error.message, data.error.fields);
    error.body = data.error; // an error may carry more members (a 409 contact_rule's next_call_at)
    return error;
  }
  if (data && data.message === 'Missing Authentication Token') {
    // What API Gateway and `chalice local` answer for a route that is not deployed.
    return new ApiError(status, 'route_missing', 'This server does not offer that yet.');
  }
  if (status >= 500) return new ApiError(status, 'server_error', 'The server had a problem. Try again in a moment.');
  return new ApiError(status, 'error', `The request failed (${status}).`);
}

// Where each list is stated in /openapi.json: a route and the name of one of its query parameters
// or body fields (as API.md names them), whose schema carries the enum.
const SOURCES = {
  followUpStatuses: ['GET /follow-ups', 'status'],
  buckets: ['GET /follow-ups', 'bucket'],
  paymentMethods: ['POST /payments', 'method'],
  channels: ['POST /follow-ups/{patient_id}/attempts', 'channel'],
  outcomes: ['POST /follow-ups/{patient_id}/attempts', 'outcome'],
  frequencies: ['POST /follow-ups/{patient_id}/payment-plan', 'frequency'],
  roles: ['POST /staff', 'role'],
  holdReasons: ['POST /follow-ups/{patient_id}/hold', 'reason'],
  reversalReasons: ['POST /payments/{payment_id}/reversal', 'reason'],
};
// Lists of routes a server may lack (an older one): their actions are simply not offered.
const OPTIONAL_SOURCES = new Set(['holdReasons', 'reversalReasons']);
// The follow-up statuses under which nothing is owed: the worklist never lists them.
const SETTLED = new Set(['closed', 'written_off']);

function enumOf(schema, doc) {
  if (!schema) return null;
  if (schema.$ref) return enumOf(resolve(doc, schema.$ref), doc);
  if (Array.isArray(schema.enum)) return schema.enum;
  for (const option of schema.anyOf || []) {
    const values = enumOf(option, doc);
    if (values) return values;
  }
  return null;
}

function resolve(doc, ref) {
  return ref.replace(/^#\//, '').split('/').reduce((node, key) => (node ? node[key] : undefined), doc);
}

function fieldSchema(doc, spec, name) {
  const [method, path] = spec.split(' ');
  const operation = ((doc.paths || {})[path] || {})[method.toLowerCase()] || {};
  const parameter = (operation.parameters || []).find((p) => p.name === name);
  if (parameter) return parameter.schema;
  const body = operation.requestBody && operation.requestBody.content['application/json'];
  const schema = body && (body.schema.$ref ? resolve(doc, body.schema.$ref) : body.schema);
  return schema && schema.properties ? schema.properties[name] : null;
}

/** The API's lists of codes, as its OpenAPI document states them (every list is frozen, in its order). */
export class Vocabulary {
  constructor(doc) {
    for (const [list, [spec, name]] of Object.entries(SOURCES)) {
      const values = enumOf(fieldSchema(doc, spec, name), doc);
      if (!values && OPTIONAL_SOURCES.has(list)) {
        this[list] = Object.freeze([]);  // a server without the route: the console offers no such action
        continue;
      }
      if (!values) throw new ApiError(0, 'no_contract', `The API's /openapi.json names no values for ${name} of ${spec}.`);
      this[list] = Object.freeze([...values]);
    }
    Object.freeze(this);
  }

  /** The statuses of a follow-up that still owes (the worklist's status filter). */
  get owingStatuses() {
    return this.followUpStatuses.filter((status) => !SETTLED.has(status));
  }

  /**
   * Business rule (the server's twin: chalicelib/domain/aging.py bucket_for): the first bucket
   * whose upper bound ("0-30") holds `days`; beyond every bound, the open-ended last one ("90+").
   */
  bucketFor(days) {
    for (const bucket of this.buckets) {
      const bounded = /^\d+-(\d+)$/.exec(bucket);
      if (bounded && days <= Number(bounded[1])) return bucket;
    }
    return this.buckets[this.buckets.length - 1];
  }
}
