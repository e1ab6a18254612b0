// The demo page end to end: a real sealauth server (built from this repo) and
// Debian's headless Chromium, driven by playwright-core through the page's own
// UI. Needs `go`, and Chromium at /usr/bin/chromium (apt-get install -y
// chromium) or at $CHROMIUM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { SealauthClient } from '../../web/sealauth.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshot = '/tmp/sealauth-demo.png';
const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

let tmp; // holds the binary, the data dir and Chromium's profile
let server; // the sealauth child process
let base; // http://127.0.0.1:PORT
let browser; // a persistent Chromium context

before(async () => {
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  tmp = await mkdtemp(join(tmpdir(), 'sealauth-browser-'));
  await promisify(execFile)('go', ['build', '-o', join(tmp, 'sealauth'), './cmd/sealauth'], { cwd: repo });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // A clean environment and working directory: no .env or DATABASE_URL of
  // the developer's leaks in.
  server = spawn(join(tmp, 'sealauth'), ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', join(tmp, 'data')], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: tmp, BCRYPT_COST: '4', RATE_LIMIT_LOGIN_PER_IP: 'off', RATE_LIMIT_REGISTER_PER_IP: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (d) => { output += d; });
  server.stderr.on('data', (d) => { output += d; });
  await waitForHealth(`${base}/healthz`, () => output);

  // launchPersistentContext passes --user-data-dir itself (launch() refuses it in args).
  browser = await chromium.launchPersistentContext(join(tmp, 'chromium'), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
}, { timeout: 300_000 });

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('register, log in, profile, sessions and log out through the demo page', { timeout: 120_000 }, async () => {
  const page = await browser.newPage();
  const requests = [];
  const consoleErrors = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '', auth: r.headers().authorization }));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  // Record CSP violations as the page sees them (init scripts are exempt from the CSP).
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  const res = await page.goto(`${base}/demo/`);
  assert.equal(res.status(), 200, 'GET /demo/: is web.Handler() mounted at /demo/?');
  assert.equal(res.headers()['content-security-policy'], wantCSP);
  await page.locator('#register-form button:enabled').waitFor(); // demo.js has run

  const name = 'Ada Lovelace';
  const email = `ada-${randomUUID()}@example.com`;
  const password = `Glück-${randomUUID().slice(0, 8)}-Äpfel`; // unique, and not ASCII

  // 1. Register.
  await page.fill('#register-form [name=name]', name);
  await page.fill('#register-form [name=email]', email);
  await page.fill('#register-form [name=password]', password);
  await page.click('#register-form button');
  let text = await result(page, 'register');
  assert.match(text, new RegExp(`Registered ${name} <${email}> as user #\\d+\\.`));
  assert.match(text, /Password sent sealed: 344 base64 characters/);
  assert.equal(await page.inputValue('#register-form [name=password]'), '', 'the password field is cleared');

  // 2. Log in (the email was carried over from the registration).
  assert.equal(await page.inputValue('#login-form [name=email]'), email);
  await page.fill('#login-form [name=password]', password);
  await page.click('#login-form button');
  text = await result(page, 'login');
  assert.match(text, new RegExp(`Logged in as ${name}\\. The access token lasts 900 s\\.`));
  assert.match(text, /Password sent sealed: 344 base64 characters/);
  assert.equal(await page.textContent('#status'), `Signed in as ${name} <${email}>.`);

  // A second session of the same user, from Node with the same module.
  const other = new SealauthClient(base);
  await other.login(email, password);

  // 3. Profile.
  await page.click('#profile-button');
  text = await result(page, 'profile');
  assert.match(text, new RegExp(`Name\\s+${name}`));
  assert.match(text, new RegExp(`Email\\s+${email}`));

  // 4. Sessions: the page's and Node's; the page's is marked current.
  await page.click('#sessions-button');
  text = await result(page, 'sessions');
  assert.match(text, /2 active sessions\./);
  assert.equal(await page.locator('#sessions-result tbody tr').count(), 2);
  assert.match(await page.textContent('#sessions-result tbody tr:has-text("this one")'), /Mozilla\/5\.0/);

  // 5. Log out this session.
  await page.click('#logout-form button');
  text = await result(page, 'logout');
  assert.equal(text, 'Logged out (local).');
  assert.equal(await page.textContent('#status'), 'Not signed in.');
  await page.screenshot({ path: screenshot, fullPage: true });

  // The page's access token is revoked on the server; the other session lives.
  const pageToken = requests.find((r) => r.url.endsWith('/api/auth/profile')).auth;
  assert.match(pageToken, /^Bearer /);
  const revoked = await fetch(`${base}/api/auth/profile`, { headers: { Authorization: pageToken } });
  assert.equal(revoked.status, 401);
  assert.equal((await other.profile()).email, email);

  // Signed out, the page shows the API's error.
  await page.click('#profile-button');
  text = await result(page, 'profile', false);
  assert.match(text, /invalid_token/);

  // The password never left the page in plain text: not in a body, not in a URL.
  const forms = [password, JSON.stringify(password).slice(1, -1), encodeURIComponent(password),
    Buffer.from(password).toString('base64')];
  const posts = requests.filter((r) => r.method === 'POST');
  assert.deepEqual(posts.map((r) => new URL(r.url).pathname),
    ['/api/auth/register', '/api/auth/login', '/api/auth/logout']);
  for (const r of requests) {
    for (const f of forms) {
      assert.ok(!r.body.includes(f) && !r.url.includes(f), `${r.method} ${r.url} carries the password`);
    }
  }
  for (const r of posts.slice(0, 2)) {
    const body = JSON.parse(r.body);
    assert.equal(body.password.length, 344, `${r.url}: sealed password length`);
    assert.ok(body.kid, `${r.url}: kid sent`);
  }

  // No CSP violation, as reported to the console or to the page.
  assert.deepEqual(consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m)), []);
  assert.deepEqual(consoleErrors.filter((m) => m.startsWith('uncaught:')), []);
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
});

/** Waits for a section's result box to settle and returns its text; asserts it is a success (or an error). */
async function result(page, section, wantOK = true) {
  const box = page.locator(`#${section}-result:is(.ok, .error):not([aria-busy])`);
  await box.waitFor({ timeout: 15_000 });
  const text = (await box.innerText()).trim();
  assert.equal((await box.getAttribute('class')).split(/\s+/).includes('ok'), wantOK, `#${section}-result: ${text}`);
  return text;
}

/** A TCP port free a moment ago on 127.0.0.1. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** Polls url until it answers 200, for at most 30 s; fails with the server's output. */
async function waitForHealth(url, output) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`sealauth exited with ${server.exitCode}:\n${output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sealauth did not answer ${url} within 30 s:\n${output()}`);
}
