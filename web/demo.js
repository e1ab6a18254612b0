// The demo page's behaviour: each form or button calls one method of the
// client and shows the outcome. Only text is inserted (textContent), never
// HTML, so nothing the server returns can run as markup. Passwords are read
// from the form, handed to the client (which seals them) and cleared.
import { SealauthClient, SealauthError } from './sealauth.js';

/** The last sealing, as the client reported it: key id and length only. */
let lastSeal = null;
const client = new SealauthClient('', { onSeal: (info) => { lastSeal = info; } });

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);

/** Builds an element with text and children. */
function el(tag, text, ...children) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  e.append(...children);
  return e;
}

/** Shows nodes in a result box, marked as success or error. */
function show(box, ok, ...nodes) {
  box.classList.toggle('error', !ok);
  box.classList.toggle('ok', ok);
  box.replaceChildren(...nodes);
}

/** Shows an error: the API's detail and code, and any field errors. */
function showError(box, err) {
  if (!(err instanceof SealauthError)) {
    show(box, false, el('p', `Request failed: ${err.message}`));
    return;
  }
  const nodes = [el('p', `${err.detail} `, el('code', err.code))];
  if (err.errors.length) nodes.push(el('ul', undefined, ...err.errors.map((f) => el('li', `${f.field}: ${f.message}`))));
  if (err.retryAfter !== undefined) nodes.push(el('p', `Try again in ${err.retryAfter} s.`));
  show(box, false, ...nodes);
}

function sealNote() {
  return el('p', `Password sent sealed: ${lastSeal.length} base64 characters under key ${lastSeal.kid.slice(0, 12)}…`);
}

function updateStatus(user) {
  $('status').textContent = client.signedIn && user ? `Signed in as ${user.name} <${user.email}>.` : client.signedIn ? 'Signed in.' : 'Not signed in.';
  $('status').classList.toggle('signed-in', client.signedIn);
}

/** Runs action while the trigger is disabled; shows its error in box. */
async function run(trigger, box, action) {
  trigger.disabled = true;
  box.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (err) {
    showError(box, err);
  } finally {
    trigger.disabled = false;
    box.removeAttribute('aria-busy');
    if (!client.signedIn) updateStatus();
  }
}

/** Wires a form: preventing the native submission, passing its fields to handler. */
function onSubmit(form, box, handler) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    if (form.elements.password) form.elements.password.value = '';
    run(form.querySelector('button[type=submit]'), box, () => handler(fields));
  });
}

onSubmit($('register-form'), $('register-result'), async ({ name, email, password }) => {
  const { user } = await client.register(name, email, password);
  show($('register-result'), true, el('p', `Registered ${user.name} <${user.email}> as user #${user.id}.`), sealNote());
  $('login-form').elements.email.value = user.email;
});

onSubmit($('login-form'), $('login-result'), async ({ email, password }) => {
  const { user, expires_in: expiresIn } = await client.login(email, password);
  show($('login-result'), true, el('p', `Logged in as ${user.name}. The access token lasts ${expiresIn} s.`), sealNote());
  updateStatus(user);
});

$('profile-button').addEventListener('click', (event) => run(event.currentTarget, $('profile-result'), async () => {
  const p = await client.profile();
  const rows = [['ID', p.id], ['Name', p.name], ['Email', p.email],
    ['Registered', new Date(p.created_at).toLocaleString()], ['Token expires', new Date(p.exp * 1000).toLocaleString()]];
  show($('profile-result'), true, el('dl', undefined, ...rows.flatMap(([k, v]) => [el('dt', k), el('dd', String(v))])));
  updateStatus(p);
}));

$('sessions-button').addEventListener('click', (event) => run(event.currentTarget, $('sessions-result'), async () => {
  const list = await client.sessions();
  const head = el('tr', undefined, ...['Started', 'Last used', 'Client', 'Address', ''].map((h) => el('th', h)));
  const rows = list.map((s) => el('tr', undefined,
    el('td', new Date(s.created_at).toLocaleString()),
    el('td', new Date(s.last_used_at).toLocaleString()),
    Object.assign(el('td', s.user_agent), { className: 'client' }),
    el('td', s.ip),
    el('td', s.current ? 'this one' : '')));
  show($('sessions-result'), true, el('p', `${list.length} active session${list.length === 1 ? '' : 's'}.`),
    el('table', undefined, el('thead', undefined, head), el('tbody', undefined, ...rows)));
}));

onSubmit($('logout-form'), $('logout-result'), async ({ scope }) => {
  const { message } = await client.logout(scope);
  show($('logout-result'), true, el('p', `${message} (${scope}).`));
  updateStatus();
});

// The script has loaded: the forms may now submit.
for (const b of document.querySelectorAll('button')) b.disabled = false;
