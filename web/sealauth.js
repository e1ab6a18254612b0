// sealauth.js — a dependency-free client for the sealauth API, for browsers
// and for Node ≥ 20 (both have fetch and WebCrypto as globals).
//
//   import { SealauthClient } from './sealauth.js';
//   const client = new SealauthClient('');           // '' = this page's origin
//   await client.login('ada@example.com', password); // the password is sealed first
//   const me = await client.profile();
//
// Passwords leave this module only sealed: RSA-OAEP with SHA-256 (and
// MGF1-SHA-256, empty label) under the server's key from GET
// /api/auth/public-key, in standard base64, as the server expects. The module
// never logs anything, so no password, sealed value or token reaches a console.
//
// Where the tokens live: the access token is kept in memory only. The refresh
// token goes to the `storage` given to the constructor — by default memory as
// well, so a reload signs the user out. Passing `localStorage` (or
// `sessionStorage`) keeps the user signed in across reloads and shares the
// session between tabs, but any script that runs on the page — an XSS bug, a
// compromised third-party script — can then read the refresh token and use it
// elsewhere until it is spent or the session ends (up to SESSION_MAX_LIFETIME).
// Memory is not a cure for XSS either (a script on the page can call this
// client), but it keeps the long-lived credential from being copied off the
// device. Prefer memory unless reload-survival is worth that risk.

/**
 * The part of the Web Storage interface the client uses; `localStorage`,
 * `sessionStorage` and {@link MemoryStorage} all fit.
 * @typedef {{getItem(key: string): (string|null), setItem(key: string, value: string): void, removeItem(key: string): void}} TokenStorage
 */

/**
 * The body of GET /api/auth/public-key.
 * @typedef {{kid: string, alg: string, public_key: string, jwk: JsonWebKey}} PublicKeyDocument
 */

/**
 * A user as the API returns it.
 * @typedef {{id: number, name: string, email: string, created_at?: string}} User
 */

/**
 * One session from GET /api/auth/sessions.
 * @typedef {{id: string, created_at: string, last_used_at: string, user_agent: string, ip: string, current: boolean}} Session
 */

/**
 * What {@link SealauthClient#login} and {@link SealauthClient#refresh} return:
 * the token response without the tokens, which the client keeps.
 * @typedef {{user: User, token_type: string, expires_in: number}} LoginResult
 */

/**
 * Told to the `onSeal` hook after each sealing: the key used and the length of
 * the sealed value (never the value itself).
 * @typedef {{kid: string, length: number}} SealInfo
 */

/** A TokenStorage that keeps values in memory only: the default. */
export class MemoryStorage {
  /** @type {Map<string, string>} */
  #items = new Map();
  /** @param {string} key */
  getItem(key) { return this.#items.get(key) ?? null; }
  /** @param {string} key @param {string} value */
  setItem(key, value) { this.#items.set(key, String(value)); }
  /** @param {string} key */
  removeItem(key) { this.#items.delete(key); }
}

/**
 * An error answer of the API (an RFC 9457 problem document), or a response
 * that is not one. `code` is the API's stable error code (`invalid_credentials`,
 * `validation_failed`, …); `detail` is the human-readable message.
 */
export class SealauthError extends Error {
  /**
   * @param {number} status the HTTP status
   * @param {{code?: string, detail?: string, title?: string, errors?: {field: string, message: string}[]}} problem
   * @param {number} [retryAfter] seconds from Retry-After, if sent
   */
  constructor(status, problem, retryAfter) {
    const detail = problem.detail || problem.title || `HTTP ${status}`;
    super(detail);
    this.name = 'SealauthError';
    /** @type {number} */
    this.status = status;
    /** @type {string} `unexpected_response` when the body was no problem document */
    this.code = problem.code || 'unexpected_response';
    /** @type {string} */
    this.detail = detail;
    /** @type {{field: string, message: string}[]} the field errors of `validation_failed` */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    /** @type {number|undefined} seconds to wait before trying again (429, 503) */
    this.retryAfter = retryAfter;
  }
}

/**
 * Seals a password for the API: RSA-OAEP-SHA256 under the given public key,
 * over the UTF-8 bytes of the password, as standard base64.
 *
 * @param {string|JsonWebKey|PublicKeyDocument|CryptoKey} publicKey a PEM
 *   "PUBLIC KEY" (SPKI), a JWK, the whole /public-key document (its `jwk` is
 *   used), or a CryptoKey from {@link importPublicKey}
 * @param {string} password
 * @returns {Promise<string>}
 */
export async function sealPassword(publicKey, password) {
  const key = isCryptoKey(publicKey) ? publicKey : await importPublicKey(publicKey);
  const plain = new TextEncoder().encode(password);
  const sealed = await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, plain);
  return toBase64(new Uint8Array(sealed));
}

/**
 * Imports the server's sealing key for WebCrypto's RSA-OAEP with SHA-256.
 * @param {string|JsonWebKey|PublicKeyDocument} publicKey see {@link sealPassword}
 * @returns {Promise<CryptoKey>}
 */
export async function importPublicKey(publicKey) {
  const alg = { name: 'RSA-OAEP', hash: 'SHA-256' };
  if (typeof publicKey === 'string') {
    const body = publicKey.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
    if (!body) throw new TypeError('sealPassword: not a PEM "PUBLIC KEY"');
    return crypto.subtle.importKey('spki', fromBase64(body[1].replace(/\s+/g, '')), alg, false, ['encrypt']);
  }
  const doc = /** @type {PublicKeyDocument} */ (publicKey);
  if (!doc.jwk && typeof doc.public_key === 'string') return importPublicKey(doc.public_key);
  // WebCrypto checks the JWK's alg (RSA-OAEP-256) and use (enc) against ours.
  const jwk = doc.jwk ?? /** @type {JsonWebKey} */ (publicKey);
  return crypto.subtle.importKey('jwk', jwk, alg, false, ['encrypt']);
}

/** The client for one sealauth server. */
export class SealauthClient {
  #base;
  #fetch;
  #storage;
  #storageKey;
  #onSeal;
  /** @type {string|null} */
  #accessToken = null;
  /** @type {Promise<{kid: string, key: CryptoKey}>|null} */
  #key = null;
  /** @type {Promise<LoginResult>|null} */
  #refreshing = null;

  /**
   * @param {string} baseURL the server's origin (and path prefix, if any), e.g.
   *   `https://auth.example.com`; `''` for the page's own origin
   * @param {object} [options]
   * @param {TokenStorage} [options.storage] where the refresh token is kept;
   *   memory by default (see the XSS note at the top of this file)
   * @param {string} [options.storageKey] its key there; `sealauth.refresh_token` by default
   * @param {typeof fetch} [options.fetch] the fetch to use; the global one by default
   * @param {(info: SealInfo) => void} [options.onSeal] told after each sealing
   */
  constructor(baseURL, { storage, storageKey, fetch: fetchImpl, onSeal } = {}) {
    this.#base = String(baseURL).replace(/\/+$/, '');
    this.#storage = storage ?? new MemoryStorage();
    this.#storageKey = storageKey ?? 'sealauth.refresh_token';
    this.#fetch = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
    this.#onSeal = onSeal;
  }

  /** Whether the client holds a session (an access or a refresh token). */
  get signedIn() {
    return this.#accessToken !== null || this.#storage.getItem(this.#storageKey) !== null;
  }

  /**
   * The server's sealing key, fetched once and cached.
   * @param {{reload?: boolean}} [options] `reload` fetches it anew, bypassing the HTTP cache
   * @returns {Promise<{kid: string, key: CryptoKey}>}
   */
  publicKey({ reload = false } = {}) {
    if (reload || !this.#key) {
      const p = this.#request('GET', '/api/auth/public-key', { cache: reload ? 'no-cache' : undefined })
        .then(async (doc) => ({ kid: doc.kid, key: await importPublicKey(doc) }));
      p.catch(() => { if (this.#key === p) this.#key = null; }); // a failure is not cached
      this.#key = p;
    }
    return this.#key;
  }

  /**
   * Seals a password under the server's current key.
   * @param {string} password
   * @returns {Promise<{sealed: string, kid: string}>}
   */
  async seal(password) {
    const { kid, key } = await this.publicKey();
    const sealed = await sealPassword(key, password);
    this.#onSeal?.({ kid, length: sealed.length });
    return { sealed, kid };
  }

  /**
   * Creates an account. It does not sign in.
   * @param {string} name @param {string} email @param {string} password
   * @returns {Promise<{message: string, user: User}>}
   */
  register(name, email, password) {
    return this.#sealedPost('/api/auth/register', { name, email }, password);
  }

  /**
   * Signs in, keeping the tokens; any earlier session of this client is
   * forgotten (not ended).
   * @param {string} email @param {string} password
   * @returns {Promise<LoginResult>}
   */
  async login(email, password) {
    return this.#keepTokens(await this.#sealedPost('/api/auth/login', { email }, password));
  }

  /**
   * The signed-in user.
   * @returns {Promise<User & {exp: number}>}
   */
  profile() {
    return this.#authorized('GET', '/api/auth/profile');
  }

  /**
   * The user's sessions; the one of this client has `current: true`.
   * @returns {Promise<Session[]>}
   */
  async sessions() {
    return (await this.#authorized('GET', '/api/auth/sessions')).sessions;
  }

  /**
   * Trades the refresh token for a new pair. Concurrent calls share one
   * request. If it is refused, the client is signed out.
   * @returns {Promise<LoginResult>}
   */
  refresh() {
    this.#refreshing ??= this.#refreshOnce().finally(() => { this.#refreshing = null; });
    return this.#refreshing;
  }

  /**
   * Signs out on the server. `local` (the default) ends this session,
   * `global` every session of the user, `others` all but this one. For `local`
   * and `global` the client forgets its tokens even if the server cannot be
   * reached, so a failed call still signs this client out.
   * @param {'local'|'others'|'global'} [scope]
   * @returns {Promise<{message: string}>}
   */
  async logout(scope) {
    try {
      return await this.#authorized('POST', '/api/auth/logout', scope ? { scope } : undefined);
    } finally {
      if (scope !== 'others') this.#forget();
    }
  }

  // ---- internals ----

  /**
   * POSTs `fields` plus the sealed password (and its kid), resealing once
   * under a fresh key if the server answers 400 unknown_key.
   * @param {string} path @param {Record<string, string>} fields @param {string} password
   */
  async #sealedPost(path, fields, password) {
    for (let attempt = 0; ; attempt++) {
      const { sealed, kid } = await this.seal(password);
      try {
        return await this.#request('POST', path, { body: { ...fields, password: sealed, kid } });
      } catch (err) {
        if (attempt > 0 || !hasCode(err, 'unknown_key')) throw err;
        await this.publicKey({ reload: true }); // the key was rotated since we fetched it
      }
    }
  }

  /**
   * Sends a request with the access token; on 401 invalid_token refreshes
   * once and retries.
   * @param {string} method @param {string} path @param {object} [body]
   */
  async #authorized(method, path, body) {
    if (this.#accessToken === null && this.#storage.getItem(this.#storageKey) !== null) {
      await this.refresh(); // e.g. after a reload with a persistent storage
    }
    const send = () => this.#request(method, path, { body, token: this.#accessToken });
    try {
      return await send();
    } catch (err) {
      if (!hasCode(err, 'invalid_token') || this.#storage.getItem(this.#storageKey) === null) throw err;
      await this.refresh();
      return send();
    }
  }

  /** @returns {Promise<LoginResult>} */
  async #refreshOnce() {
    /** @param {string} token */
    const post = async (token) => this.#keepTokens(
      await this.#request('POST', '/api/auth/refresh', { body: { refresh_token: token } }));
    const sent = this.#storage.getItem(this.#storageKey);
    try {
      if (sent === null) throw new SealauthError(401, { code: 'invalid_token', detail: 'Not signed in.' });
      try {
        return await post(sent);
      } catch (err) {
        // Another tab sharing the storage may have refreshed first and stored
        // the next token: then ours was spent, and the stored one is to use.
        const next = this.#storage.getItem(this.#storageKey);
        if (!hasCode(err, 'invalid_token') || next === null || next === sent) throw err;
        return await post(next);
      }
    } catch (err) {
      if (hasCode(err, 'invalid_token')) this.#forget(); // the session is over
      throw err;
    }
  }

  /**
   * Keeps the tokens of a login or refresh response and returns the rest.
   * @param {LoginResult & {access_token: string, refresh_token: string}} response
   * @returns {LoginResult}
   */
  #keepTokens({ access_token, refresh_token, ...rest }) {
    this.#accessToken = access_token;
    this.#storage.setItem(this.#storageKey, refresh_token);
    return rest;
  }

  #forget() {
    this.#accessToken = null;
    this.#storage.removeItem(this.#storageKey);
  }

  /**
   * Sends one request and returns its JSON body, or throws a SealauthError.
   * @param {string} method @param {string} path
   * @param {{body?: object, token?: string|null, cache?: RequestCache}} [options]
   */
  async #request(method, path, { body, token, cache } = {}) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json, application/problem+json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await this.#fetch(this.#base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache,
      credentials: 'omit', // bearer tokens, never cookies
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: handled below */ }
    if (res.ok) {
      if (json === null && text) throw new SealauthError(res.status, { detail: 'The server answered with no JSON.' });
      return json;
    }
    const problem = json && typeof json === 'object' ? json : {};
    throw new SealauthError(res.status, problem, retryAfterOf(res.headers.get('Retry-After')));
  }
}

/** @param {unknown} err @param {string} code */
function hasCode(err, code) {
  return err instanceof SealauthError && err.code === code;
}

/**
 * Seconds from a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * @param {string|null} value
 */
function retryAfterOf(value) {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** @param {unknown} k @returns {k is CryptoKey} */
function isCryptoKey(k) {
  return typeof CryptoKey !== 'undefined' && k instanceof CryptoKey;
}

/** @param {Uint8Array} bytes */
function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** @param {string} b64 */
function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
