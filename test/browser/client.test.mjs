// SealauthClient's protocol logic, in Node alone, against a scripted fetch:
// the key re-fetch on unknown_key, the refresh on invalid_token, where tokens
// are kept, and how problem+json errors surface.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { MemoryStorage, SealauthClient, SealauthError } from '../../web/sealauth.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' });

const json = (status, body, headers = {}) => new Response(JSON.stringify(body), {
  status,
  headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json', ...headers },
});
const problem = (status, code, extra = {}, headers) => json(status, { status, code, detail: `${code}!`, ...extra }, headers);
const tokens = (n) => json(200, { user: { id: 1, name: 'Ada', email: 'ada@example.com' }, access_token: `at${n}`, token_type: 'Bearer', expires_in: 900, refresh_token: `rt${n}` });

/**
 * A scripted server: routes maps "METHOD /path" to a handler of the parsed
 * request; every call is recorded.
 */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const path = new URL(url).pathname;
    const call = { path, method: init.method, cache: init.cache, auth: init.headers.Authorization, body: init.body ? JSON.parse(init.body) : undefined };
    calls.push(call);
    const route = routes[`${init.method} ${path}`];
    if (!route) return problem(404, 'not_found');
    return route(call, calls);
  };
  return { fetch, calls };
}

const opened = (sealed) => privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
  Buffer.from(sealed, 'base64')).toString('utf8');

test('login seals the password and re-fetches the key once on unknown_key', async () => {
  let keyFetches = 0;
  const { fetch, calls } = fakeFetch({
    'GET /api/auth/public-key': () => json(200, { kid: ++keyFetches === 1 ? 'old' : 'new', public_key: pem }),
    'POST /api/auth/login': ({ body }) => (body.kid === 'new' ? tokens(1) : problem(400, 'unknown_key')),
  });
  const seals = [];
  const client = new SealauthClient('http://auth.test/', { fetch, onSeal: (i) => seals.push(i) });

  const res = await client.login('ada@example.com', 'correct horse battery staple');
  assert.deepEqual(res, { user: { id: 1, name: 'Ada', email: 'ada@example.com' }, token_type: 'Bearer', expires_in: 900 });
  assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`),
    ['GET /api/auth/public-key', 'POST /api/auth/login', 'GET /api/auth/public-key', 'POST /api/auth/login']);
  assert.equal(calls[2].cache, 'no-cache', 'the re-fetch bypasses the HTTP cache');
  for (const c of calls.filter((c) => c.method === 'POST')) {
    assert.equal(opened(c.body.password), 'correct horse battery staple');
    assert.ok(!JSON.stringify(c.body).includes('horse'), 'no plaintext in the body');
  }
  assert.deepEqual(seals.map((s) => s.kid), ['old', 'new']);
  assert.equal(seals[0].length, 344);
  assert.ok(client.signedIn);
});

test('a second unknown_key is an error, not a loop', async () => {
  const { fetch, calls } = fakeFetch({
    'GET /api/auth/public-key': () => json(200, { kid: 'k', public_key: pem }),
    'POST /api/auth/login': () => problem(400, 'unknown_key'),
  });
  const client = new SealauthClient('http://auth.test', { fetch });
  await assert.rejects(client.login('a@example.com', 'password1'), { code: 'unknown_key', status: 400 });
  assert.equal(calls.length, 4);
});

test('tokens: access in memory, refresh in storage; invalid_token refreshes once, concurrently shared', async () => {
  let refreshes = 0;
  const { fetch, calls } = fakeFetch({
    'GET /api/auth/public-key': () => json(200, { kid: 'k', public_key: pem }),
    'POST /api/auth/login': () => tokens(1),
    'POST /api/auth/refresh': ({ body }) => (body.refresh_token === 'rt1' ? (refreshes++, tokens(2)) : problem(401, 'invalid_token')),
    'GET /api/auth/profile': ({ auth }) => (auth === 'Bearer at2' ? json(200, { id: 1 }) : problem(401, 'invalid_token')),
  });
  const storage = new MemoryStorage();
  const client = new SealauthClient('http://auth.test', { fetch, storage });
  await client.login('ada@example.com', 'password1');
  assert.equal(storage.getItem('sealauth.refresh_token'), 'rt1');

  // at1 is refused (say, expired): both calls refresh with one request and retry.
  const [a, b] = await Promise.all([client.profile(), client.profile()]);
  assert.deepEqual([a, b], [{ id: 1 }, { id: 1 }]);
  assert.equal(refreshes, 1);
  assert.equal(storage.getItem('sealauth.refresh_token'), 'rt2');
  assert.ok(!calls.some((c) => Object.values(c.body ?? {}).some((v) => /^at\d$/.test(v))), 'access tokens travel only in headers');

  // rt2 is refused: the client is signed out and says so.
  storage.setItem('sealauth.refresh_token', 'rt-bad');
  await assert.rejects(client.refresh(), { code: 'invalid_token', status: 401 });
  assert.equal(client.signedIn, false);
  assert.equal(storage.getItem('sealauth.refresh_token'), null);
});

test('a refresh lost to another tab retries with the token that tab stored', async () => {
  const storage = new MemoryStorage();
  const { fetch } = fakeFetch({
    'POST /api/auth/refresh': ({ body }) => {
      if (body.refresh_token === 'rt1') {
        storage.setItem('sealauth.refresh_token', 'rt2'); // the sibling tab won the race
        return problem(401, 'invalid_token');
      }
      return body.refresh_token === 'rt2' ? tokens(3) : problem(401, 'invalid_token');
    },
  });
  storage.setItem('sealauth.refresh_token', 'rt1');
  const client = new SealauthClient('http://auth.test', { fetch, storage });
  await client.refresh();
  assert.equal(storage.getItem('sealauth.refresh_token'), 'rt3');
});

test('logout forgets the tokens even when the server refuses', async () => {
  const storage = new MemoryStorage();
  storage.setItem('sealauth.refresh_token', 'rt1');
  const { fetch } = fakeFetch({ 'POST /api/auth/refresh': () => problem(503, 'service_unavailable') });
  const client = new SealauthClient('http://auth.test', { fetch, storage });
  await assert.rejects(client.logout(), { status: 503 });
  assert.equal(client.signedIn, false);
});

test('problem+json errors surface as SealauthError with their fields', async () => {
  const { fetch } = fakeFetch({
    'GET /api/auth/public-key': () => json(200, { kid: 'k', public_key: pem }),
    'POST /api/auth/register': ({ body }) => (body.name === 'slow'
      ? problem(429, 'rate_limited', {}, { 'Retry-After': '7' })
      : problem(422, 'validation_failed', { errors: [{ field: 'email', message: 'must be a valid email address' }] })),
    'GET /api/auth/sessions': () => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } }),
  });
  const client = new SealauthClient('http://auth.test', { fetch });

  const err = await client.register('Ada', 'nope', 'password1').catch((e) => e);
  assert.ok(err instanceof SealauthError && err instanceof Error);
  assert.equal(err.status, 422);
  assert.equal(err.code, 'validation_failed');
  assert.equal(err.detail, 'validation_failed!');
  assert.equal(err.message, 'validation_failed!');
  assert.deepEqual(err.errors, [{ field: 'email', message: 'must be a valid email address' }]);
  assert.equal(err.retryAfter, undefined);

  await assert.rejects(client.register('slow', 'a@example.com', 'password1'), { status: 429, code: 'rate_limited', retryAfter: 7 });
  await assert.rejects(client.sessions(), { status: 502, code: 'unexpected_response', errors: [] });
});
