// sealPassword interop, in Node alone: what web/sealauth.js seals with
// WebCrypto must open with node:crypto's RSA-OAEP-SHA256 — the same operation
// as the server's (Go's rsa.DecryptOAEP with SHA-256 and MGF1-SHA-256).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { sealPassword } from '../../web/sealauth.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' });
// The JWK as GET /api/auth/public-key publishes it.
const jwk = { ...publicKey.export({ format: 'jwk' }), use: 'enc', alg: 'RSA-OAEP-256', kid: 'test-kid' };

function open(sealed) {
  const plain = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(sealed, 'base64'),
  );
  return plain.toString('utf8');
}

const keys = {
  'PEM (SPKI)': pem,
  'JWK': jwk,
  'the /public-key document': { kid: 'test-kid', alg: 'RSA-OAEP-256', public_key: pem, jwk },
  'a document without jwk': { kid: 'test-kid', public_key: pem },
};

const passwords = [
  'correct horse battery staple',
  'Glück 🔐 пароль 密码', // multi-byte UTF-8
  'x'.repeat(72), // bcrypt's limit in bytes
];

for (const [kind, key] of Object.entries(keys)) {
  test(`sealPassword with ${kind} opens with node:crypto`, async () => {
    for (const password of passwords) {
      const sealed = await sealPassword(key, password);
      assert.match(sealed, /^[A-Za-z0-9+/]+={0,2}$/, 'standard base64');
      assert.equal(sealed.length, 344, 'base64 of a 256-byte ciphertext');
      assert.equal(open(sealed), password);
    }
  });
}

test('sealing is randomised: the same password seals differently each time', async () => {
  const a = await sealPassword(pem, 'correct horse battery staple');
  const b = await sealPassword(pem, 'correct horse battery staple');
  assert.notEqual(a, b);
  assert.equal(open(a), open(b));
});

test('sealPassword refuses what is not a public key', async () => {
  await assert.rejects(sealPassword('not a key', 'password'), TypeError);
  await assert.rejects(sealPassword(privateKey.export({ type: 'pkcs8', format: 'pem' }), 'password'), TypeError);
  // A JWK for RSA-OAEP with SHA-1 does not fit the server's SHA-256.
  await assert.rejects(sealPassword({ ...jwk, alg: 'RSA-OAEP' }, 'password'));
});
