// A JWT verifier as an outside service would run it: jose's createRemoteJWKSet
// on our JWKS URL, with jose's defaults. It reads one access token per line on
// stdin and prints one JSON line per token: {"ok":true,"sub":…,"kid":…} or
// {"ok":false,"error":…}. Usage: node verify.mjs JWKS_URL ISSUER
import { createRemoteJWKSet, jwtVerify } from 'jose';
import readline from 'node:readline';

const [jwksURL, issuer] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksURL));
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, typ: 'at+jwt' });
    console.log(JSON.stringify({ ok: true, sub: payload.sub, kid: protectedHeader.kid }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: String(err && err.code || err) }));
  }
}
