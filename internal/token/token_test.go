package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sealauth/sealauth/internal/token"
)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "https://api.example.test"
	testTTL      = 15 * time.Minute
	testEmail    = "ada@example.com"
	testUserID   = 42
)

// testNow is the clock of every issuer under test, so that tokens never expire
// while a test runs and the leeway boundaries can be hit exactly.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// algs are the signing algorithms an Issuer supports.
var algs = []string{"ES256", "RS256", "PS256", "EdDSA", "HS256"}

// rsaKey is the one RSA key of this test binary: generating one is slow.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// newKey returns a signing key for alg. Every call returns a fresh key, except
// for RS256 and PS256, which share the test binary's one RSA key.
func newKey(t testing.TB, alg, id string) token.Key {
	t.Helper()
	k := token.Key{ID: id, Alg: alg}
	switch alg {
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("ecdsa.GenerateKey: %v", err)
		}
		k.Signer = priv
	case "RS256", "PS256":
		priv, err := rsaKey()
		if err != nil {
			t.Fatalf("rsa.GenerateKey: %v", err)
		}
		k.Signer = priv
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("ed25519.GenerateKey: %v", err)
		}
		k.Signer = priv
	case "HS256":
		k.Secret = make([]byte, 32)
		if _, err := rand.Read(k.Secret); err != nil {
			t.Fatalf("rand.Read: %v", err)
		}
	default:
		t.Fatalf("newKey: unknown alg %q", alg)
	}
	return k
}

// signKey is what jwt's SignedString needs for k.
func signKey(k token.Key) any {
	if k.Signer != nil {
		return k.Signer
	}
	return k.Secret
}

func testConfig(now time.Time) token.Config {
	return token.Config{Issuer: testIssuer, TTL: testTTL, Now: fixed(now)}
}

func newIssuer(t testing.TB, cfg token.Config, keys ...token.Key) *token.Issuer {
	t.Helper()
	is, err := token.NewIssuer(cfg, keys...)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return is
}

func issue(t testing.TB, is *token.Issuer) string {
	t.Helper()
	raw, _, err := is.Issue(testUserID, testEmail, "session-1")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return raw
}

// segment decodes the i-th segment of a compact JWT into a map.
func segment(t testing.TB, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return m
}

// tamper rewrites the payload of raw with edit and keeps the original header and
// signature.
func tamper(t testing.TB, raw string, edit func(claims map[string]any)) string {
	t.Helper()
	claims := segment(t, raw, 1)
	edit(claims)
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	parts := strings.Split(raw, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// edited returns base with edits applied; a nil value deletes the entry.
func edited(base, edits map[string]any) map[string]any {
	for k, v := range edits {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return base
}

// claimsAt are valid access-token claims issued at now, with edits applied.
func claimsAt(now time.Time, edits map[string]any) jwt.MapClaims {
	return edited(map[string]any{
		"iss":   testIssuer,
		"sub":   strconv.Itoa(testUserID),
		"id":    testUserID,
		"email": testEmail,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(testTTL).Unix(),
		"jti":   "GXKQ2ZJ7N4BPOYV3LRX6T5WMAE",
	}, edits)
}

// headerFor is the header of an access token signed with kid, with edits applied.
func headerFor(kid string, edits map[string]any) map[string]any {
	return edited(map[string]any{"typ": token.Type, "kid": kid}, edits)
}

// forge signs claims with key under method, with exactly the given header
// fields besides alg.
func forge(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	delete(tok.Header, "typ")
	for k, v := range header {
		tok.Header[k] = v
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forge %s: %v", method.Alg(), err)
	}
	return raw
}

func mustECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	return priv
}

// signer is a signing method with a key for it.
type signer struct {
	method jwt.SigningMethod
	key    any
}

// attackerKey returns a fresh key for alg, or an ES256 one for RS256 and PS256,
// with its public JWK (RFC 7517), as an attacker would embed it.
func attackerKey(t testing.TB, alg string) (signer, map[string]any) {
	t.Helper()
	enc := base64.RawURLEncoding
	switch alg {
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("ed25519.GenerateKey: %v", err)
		}
		return signer{jwt.SigningMethodEdDSA, priv}, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc.EncodeToString(pub)}
	case "HS256":
		secret := []byte("attacker's secret, 32 bytes long")
		return signer{jwt.SigningMethodHS256, secret}, map[string]any{"kty": "oct", "k": enc.EncodeToString(secret)}
	}
	priv := mustECDSA(t, elliptic.P256())
	return signer{jwt.SigningMethodES256, priv}, ecJWK(t, &priv.PublicKey)
}

func ecJWK(t testing.TB, pub *ecdsa.PublicKey) map[string]any {
	t.Helper()
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatalf("PublicKey.Bytes: %v", err)
	}
	enc := base64.RawURLEncoding
	return map[string]any{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(b[1:33]), "y": enc.EncodeToString(b[33:])}
}

// target is an issuer under attack.
type target struct {
	is     *token.Issuer
	key    token.Key
	method jwt.SigningMethod
	now    time.Time
}

func newTarget(t testing.TB, alg string) target {
	t.Helper()
	key := newKey(t, alg, "key-2026-03")
	return target{
		is:     newIssuer(t, testConfig(testNow), key),
		key:    key,
		method: jwt.GetSigningMethod(alg),
		now:    testNow,
	}
}

// forge signs claims with the target's own key and the given header.
func (tg target) forge(t testing.TB, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	return forge(t, tg.method, signKey(tg.key), header, claims)
}

// attack is a token that Verify must refuse. reason, when set, is the jwt error
// the refusal must wrap, so that a case cannot pass for the wrong reason.
type attack struct {
	name   string
	raw    string
	reason error
}

// attacks are the tokens every issuer must refuse. Each one differs from a
// token Verify accepts (see TestVerifyAcceptsForgedControl) in one respect.
func attacks(t testing.TB, tg target) []attack {
	t.Helper()
	kid := tg.key.ID
	now := tg.now
	valid := tg.forge(t, headerFor(kid, nil), claimsAt(now, nil))
	parts := strings.Split(valid, ".")

	// The attacker signs with a key of their own, of our algorithm where the
	// test has one to spare (RS256 and PS256 share the one RSA key, so there
	// the attacker's ES256 token meets the pinned algorithm first).
	attacker, jwk := attackerKey(t, tg.method.Alg())
	byAttacker := func(header map[string]any) string {
		return forge(t, attacker.method, attacker.key, header, claimsAt(now, nil))
	}
	// unknownKid is why a token naming a kid we do not have is refused: the
	// unknown kid, or, for an attacker of another algorithm, the pinned alg.
	unknownKid := token.ErrUnknownKey
	if attacker.method != tg.method {
		unknownKid = jwt.ErrTokenSignatureInvalid
	}
	huge := strings.Repeat("A", 1<<20)
	// withHeader puts a hand-written header on the valid token's payload.
	withHeader := func(header, sig string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "." + sig
	}
	algHeader := func(alg string) string { return `{"alg":` + alg + `,"typ":"at+jwt","kid":"` + kid + `"}` }

	as := []attack{
		{name: "alg none", reason: jwt.ErrTokenSignatureInvalid,
			raw: forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, headerFor(kid, nil), claimsAt(now, nil))},
		{name: "alg none with the original signature", reason: jwt.ErrTokenSignatureInvalid, raw: withHeader(algHeader(`"none"`), parts[2])},
		{name: "alg None", reason: jwt.ErrTokenUnverifiable, raw: withHeader(algHeader(`"None"`), "")},
		{name: "alg NONE", reason: jwt.ErrTokenUnverifiable, raw: withHeader(algHeader(`"NONE"`), "")},
		{name: "alg empty", reason: jwt.ErrTokenUnverifiable, raw: withHeader(algHeader(`""`), parts[2])},
		{name: "alg not a string", reason: jwt.ErrTokenUnverifiable, raw: withHeader(algHeader(`["`+tg.method.Alg()+`"]`), parts[2])},
		{name: "alg missing", reason: jwt.ErrTokenUnverifiable, raw: withHeader(`{"typ":"at+jwt","kid":"`+kid+`"}`, parts[2])},
		{name: "alg ES384 by an attacker key", reason: jwt.ErrTokenSignatureInvalid,
			raw: forge(t, jwt.SigningMethodES384, mustECDSA(t, elliptic.P384()), headerFor(kid, nil), claimsAt(now, nil))},

		{name: "tampered payload (email)", reason: jwt.ErrTokenSignatureInvalid,
			raw: tamper(t, valid, func(c map[string]any) { c["email"] = "mallory@example.com" })},
		{name: "tampered payload (id and sub)", reason: jwt.ErrTokenSignatureInvalid,
			raw: tamper(t, valid, func(c map[string]any) { c["id"] = 1; c["sub"] = "1" })},
		{name: "tampered payload (exp)", reason: jwt.ErrTokenSignatureInvalid,
			raw: tamper(t, valid, func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() })},
		{name: "tampered header", reason: jwt.ErrTokenSignatureInvalid, raw: withHeader(`{"alg":"`+tg.method.Alg()+`","typ":"at+jwt","kid":"`+kid+`","x":1}`, parts[2])},
		{name: "signature stripped", reason: jwt.ErrTokenSignatureInvalid, raw: parts[0] + "." + parts[1] + "."},
		{name: "signature of another token", reason: jwt.ErrTokenSignatureInvalid,
			raw: parts[0] + "." + parts[1] + "." + strings.Split(tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"email": "other@example.com"})), ".")[2]},

		{name: "wrong kid", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("key-2025-01", nil), claimsAt(now, nil))},
		{name: "kid in another case", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor(strings.ToUpper(kid), nil), claimsAt(now, nil))},
		{name: "kid with NUL suffix", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor(kid+"\x00", nil), claimsAt(now, nil))},
		{name: "missing kid", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor(kid, map[string]any{"kid": nil}), claimsAt(now, nil))},
		{name: "empty kid", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("", nil), claimsAt(now, nil))},
		{name: "kid not a string", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor(kid, map[string]any{"kid": 1}), claimsAt(now, nil))},
		{name: "kid array", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor(kid, map[string]any{"kid": []string{kid}}), claimsAt(now, nil))},
		{name: "kid path traversal", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("../../etc/passwd", nil), claimsAt(now, nil))},
		{name: "kid path traversal to /dev/null", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("../../../../../../dev/null", nil), claimsAt(now, nil))},
		{name: "kid SQL injection", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("' OR 1=1 --", nil), claimsAt(now, nil))},
		{name: "kid SQL union", reason: token.ErrUnknownKey, raw: tg.forge(t, headerFor("x' UNION SELECT 'secret", nil), claimsAt(now, nil))},

		{name: "attacker key with our kid and embedded jwk", reason: jwt.ErrTokenSignatureInvalid,
			raw: byAttacker(headerFor(kid, map[string]any{"jwk": jwk}))},
		{name: "attacker key with jwk and no kid", reason: unknownKid,
			raw: byAttacker(headerFor(kid, map[string]any{"kid": nil, "jwk": jwk}))},
		{name: "attacker key with jku", reason: jwt.ErrTokenSignatureInvalid,
			raw: byAttacker(headerFor(kid, map[string]any{"jku": "https://attacker.example/jwks.json"}))},
		{name: "attacker key with x5u", reason: jwt.ErrTokenSignatureInvalid,
			raw: byAttacker(headerFor(kid, map[string]any{"x5u": "https://attacker.example/cert.pem"}))},
		{name: "attacker key with jku, x5u, jwk and the attacker's kid", reason: unknownKid,
			raw: byAttacker(headerFor("attacker", map[string]any{"jwk": jwk, "jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/cert.pem"}))},

		{name: "typ JWT", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": "JWT"}), claimsAt(now, nil))},
		{name: "typ missing", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": nil}), claimsAt(now, nil))},
		{name: "typ empty", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": ""}), claimsAt(now, nil))},
		{name: "typ with a space", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": "at+jwt "}), claimsAt(now, nil))},
		{name: "typ not a string", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": []string{token.Type}}), claimsAt(now, nil))},
		{name: "typ of an ID token", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"typ": "id_token+jwt"}), claimsAt(now, nil))},
		{name: "crit present", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"crit": []string{"exp"}, "exp": now.Unix()}), claimsAt(now, nil))},
		{name: "crit empty", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"crit": []string{}}), claimsAt(now, nil))},
		{name: "crit b64", reason: jwt.ErrTokenUnverifiable, raw: tg.forge(t, headerFor(kid, map[string]any{"crit": []string{"b64"}, "b64": false}), claimsAt(now, nil))},

		{name: "expired beyond leeway", reason: jwt.ErrTokenExpired,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now.Add(-testTTL-token.Leeway-time.Second), nil))},
		{name: "exp missing", reason: jwt.ErrTokenRequiredClaimMissing,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"exp": nil}))},
		{name: "exp zero", reason: jwt.ErrTokenExpired,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"exp": 0}))},
		{name: "exp negative", reason: jwt.ErrTokenExpired,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"exp": -1}))},
		{name: "nbf in the future beyond leeway", reason: jwt.ErrTokenNotValidYet,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"nbf": now.Add(token.Leeway + time.Second).Unix()}))},
		{name: "iat in the future beyond leeway", reason: jwt.ErrTokenUsedBeforeIssued,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"iat": now.Add(token.Leeway + time.Second).Unix()}))},
		{name: "wrong iss", reason: jwt.ErrTokenInvalidIssuer,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"iss": "https://evil.example"}))},
		{name: "iss in another case", reason: jwt.ErrTokenInvalidIssuer,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"iss": strings.ToUpper(testIssuer)}))},
		{name: "iss missing", reason: jwt.ErrTokenInvalidClaims,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"iss": nil}))},
		{name: "sub not matching id",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"sub": "43"}))},
		{name: "sub with a leading zero",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"sub": "042"}))},
		{name: "sub missing",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"sub": nil}))},
		{name: "id missing",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"id": nil}))},
		{name: "id a string", reason: jwt.ErrTokenMalformed,
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"id": strconv.Itoa(testUserID)}))},
		{name: "jti missing",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"jti": nil}))},
		{name: "jti empty",
			raw: tg.forge(t, headerFor(kid, nil), claimsAt(now, map[string]any{"jti": ""}))},

		{name: "empty string", reason: jwt.ErrTokenMalformed, raw: ""},
		{name: "garbage", reason: jwt.ErrTokenMalformed, raw: "garbage"},
		{name: "3 dots", reason: jwt.ErrTokenMalformed, raw: "..."},
		{name: "2 dots", reason: jwt.ErrTokenMalformed, raw: ".."},
		{name: "a.b.c", reason: jwt.ErrTokenMalformed, raw: "a.b.c"},
		{name: "extra segment", reason: jwt.ErrTokenMalformed, raw: valid + "." + parts[2]},
		{name: "trailing dot", reason: jwt.ErrTokenMalformed, raw: valid + "."},
		{name: "Bearer prefix", reason: jwt.ErrTokenMalformed, raw: "Bearer " + valid},
		{name: "leading space", reason: jwt.ErrTokenMalformed, raw: " " + valid},
		{name: "padded segments", reason: jwt.ErrTokenMalformed, raw: parts[0] + "=." + parts[1] + "==." + parts[2]},
		{name: "JSON serialization", reason: jwt.ErrTokenMalformed,
			raw: `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`},
		// Refused by the length cap (token.MaxLen) before any parsing.
		{name: "huge token (1 MB payload)", raw: parts[0] + "." + huge + "." + parts[2]},
		{name: "huge token (1 MB of dots)", raw: strings.Repeat(".", 1<<20)},
		{name: "huge token (1 MB signature)", raw: parts[0] + "." + parts[1] + "." + huge},
	}
	if tg.key.Signer != nil {
		as = append(as, keyConfusion(t, tg)...)
	}
	// Another issuer's key under our kid. RS256 and PS256 share the test binary's
	// one RSA key, so for them the attacker's key is the ECDSA one above.
	if alg := tg.method.Alg(); alg != "RS256" && alg != "PS256" {
		other := newKey(t, alg, kid)
		as = append(as, attack{name: "another issuer's key with the same kid", reason: jwt.ErrTokenSignatureInvalid,
			raw: forge(t, tg.method, signKey(other), headerFor(kid, nil), claimsAt(now, nil))})
	}
	return as
}

// keyConfusion are HMAC tokens whose secret is the target's public key, the
// classic attack on verifiers that let the token choose the algorithm.
func keyConfusion(t testing.TB, tg target) []attack {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(tg.key.Signer.Public())
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey: %v", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	secrets := []struct {
		name   string
		secret []byte
	}{
		{"public key PEM", pemBytes},
		{"public key PEM without newline", []byte(strings.TrimSpace(string(pemBytes)))},
		{"public key DER", der},
	}
	if rsaPub, ok := tg.key.Signer.Public().(*rsa.PublicKey); ok {
		pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub)})
		secrets = append(secrets, struct {
			name   string
			secret []byte
		}{"public key PKCS#1 PEM", pkcs1})
	}
	var as []attack
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		for _, s := range secrets {
			as = append(as, attack{
				name:   m.Alg() + " with the " + s.name + " as secret",
				reason: jwt.ErrTokenSignatureInvalid,
				raw:    forge(t, m, s.secret, headerFor(tg.key.ID, nil), claimsAt(tg.now, nil)),
			})
		}
	}
	return as
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	users := []struct {
		id    int64
		email string
	}{
		{testUserID, testEmail},
		{1, "ädä+tag@exämple.com"},
		{1<<53 + 1, "float@example.com"}, // not representable as float64
		{math.MaxInt64, "max@example.com"},
	}
	for _, alg := range algs {
		for _, aud := range []string{"", testAudience} {
			t.Run(alg+"/aud="+aud, func(t *testing.T) {
				t.Parallel()
				key := newKey(t, alg, "kid-"+alg)
				cfg := testConfig(testNow)
				cfg.Audience = aud
				is := newIssuer(t, cfg, key)
				if got := is.Alg(); got != alg {
					t.Errorf("Alg() = %q, want %q", got, alg)
				}
				if got := is.TTL(); got != testTTL {
					t.Errorf("TTL() = %v, want %v", got, testTTL)
				}
				for _, u := range users {
					raw, issued, err := is.Issue(u.id, u.email, "session-1")
					if err != nil {
						t.Fatalf("Issue(%d): %v", u.id, err)
					}
					got, err := is.Verify(raw)
					if err != nil {
						t.Fatalf("Verify(Issue(%d)): %v", u.id, err)
					}
					checkClaims(t, got, u.id, u.email, aud)
					if got.ID != issued.ID {
						t.Errorf("Verify: jti = %q, want the issued %q", got.ID, issued.ID)
					}
					checkClaims(t, issued, u.id, u.email, aud)

					h := segment(t, raw, 0)
					want := map[string]any{"alg": alg, "typ": token.Type, "kid": key.ID}
					if len(h) != len(want) {
						t.Errorf("header = %v, want exactly %v", h, want)
					}
					for k, v := range want {
						if h[k] != v {
							t.Errorf("header %s = %v, want %v", k, h[k], v)
						}
					}
					payload := segment(t, raw, 1)
					if id := payload["id"].(json.Number).String(); id != strconv.FormatInt(u.id, 10) {
						t.Errorf("payload id = %s, want %d", id, u.id)
					}
					_, hasAud := payload["aud"]
					if hasAud != (aud != "") {
						t.Errorf("payload has aud = %v, want %v (Config.Audience %q)", hasAud, aud != "", aud)
					}
				}
			})
		}
	}
}

func checkClaims(t *testing.T, c *token.Claims, id int64, email, aud string) {
	t.Helper()
	if c.Issuer != testIssuer {
		t.Errorf("iss = %q, want %q", c.Issuer, testIssuer)
	}
	if want := strconv.FormatInt(id, 10); c.Subject != want {
		t.Errorf("sub = %q, want %q", c.Subject, want)
	}
	if c.UserID != id {
		t.Errorf("id = %d, want %d", c.UserID, id)
	}
	if c.Email != email {
		t.Errorf("email = %q, want %q", c.Email, email)
	}
	if c.SessionID != "session-1" {
		t.Errorf("sid = %q, want %q", c.SessionID, "session-1")
	}
	for _, d := range []struct {
		name string
		got  *jwt.NumericDate
		want time.Time
	}{
		{"iat", c.IssuedAt, testNow},
		{"nbf", c.NotBefore, testNow},
		{"exp", c.ExpiresAt, testNow.Add(testTTL)},
	} {
		if d.got == nil || !d.got.Equal(d.want) {
			t.Errorf("%s = %v, want %v", d.name, d.got, d.want)
		}
	}
	checkJTI(t, c.ID)
	switch {
	case aud == "" && len(c.Audience) != 0:
		t.Errorf("aud = %q, want none", c.Audience)
	case aud != "" && (len(c.Audience) != 1 || c.Audience[0] != aud):
		t.Errorf("aud = %q, want [%q]", c.Audience, aud)
	}
}

// checkJTI checks that jti carries at least 128 bits: rand.Text is base32, 5
// bits a character.
func checkJTI(t *testing.T, jti string) {
	t.Helper()
	if bits := 5 * len(jti); bits < 128 {
		t.Errorf("jti %q carries %d bits, want >= 128", jti, bits)
	}
	if strings.Trim(jti, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("jti %q is not base32", jti)
	}
}

func TestIssueJTIUnique(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, testConfig(testNow), newKey(t, "HS256", "k"))
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		_, c, err := is.Issue(testUserID, testEmail, "")
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		checkJTI(t, c.ID)
		if seen[c.ID] {
			t.Fatalf("jti %q issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestNewIssuerErrors(t *testing.T) {
	t.Parallel()
	es := newKey(t, "ES256", "es")
	cfg := testConfig(testNow)
	tests := []struct {
		name string
		cfg  token.Config
		keys []token.Key
	}{
		{name: "no keys", cfg: cfg},
		{name: "zero TTL", cfg: token.Config{Issuer: testIssuer}, keys: []token.Key{es}},
		{name: "negative TTL", cfg: token.Config{Issuer: testIssuer, TTL: -time.Minute}, keys: []token.Key{es}},
		{name: "alg none", cfg: cfg, keys: []token.Key{{ID: "n", Alg: "none"}}},
		{name: "alg none after a good key", cfg: cfg, keys: []token.Key{es, {ID: "n", Alg: "none"}}},
		{name: "alg empty", cfg: cfg, keys: []token.Key{{ID: "e", Secret: make([]byte, 32)}}},
		{name: "alg unknown", cfg: cfg, keys: []token.Key{{ID: "u", Alg: "HS257", Secret: make([]byte, 32)}}},
		{name: "HS256 secret of 31 bytes", cfg: cfg, keys: []token.Key{{ID: "h", Alg: "HS256", Secret: make([]byte, 31)}}},
		{name: "HS256 without a secret", cfg: cfg, keys: []token.Key{{ID: "h", Alg: "HS256"}}},
		{name: "HS256 with a signer", cfg: cfg, keys: []token.Key{{ID: "h", Alg: "HS256", Signer: es.Signer}}},
		{name: "ES256 without a signer", cfg: cfg, keys: []token.Key{{ID: "e", Alg: "ES256", Secret: make([]byte, 32)}}},
	}
	for _, tt := range tests {
		if is, err := token.NewIssuer(tt.cfg, tt.keys...); err == nil {
			t.Errorf("NewIssuer(%s) = %v, nil error; want an error", tt.name, is)
		}
	}
}

// TestVerifyMixedAlgorithms checks that an issuer holding keys of several
// algorithms (an algorithm change in progress) checks each token with the
// algorithm of the key its kid names, never the one the token asks for.
func TestVerifyMixedAlgorithms(t *testing.T) {
	t.Parallel()
	es := newKey(t, "ES256", "es")
	rs := newKey(t, "RS256", "rs")
	ps := newKey(t, "PS256", "ps") // the same RSA key as rs
	hs := newKey(t, "HS256", "hs")
	is := newIssuer(t, testConfig(testNow), es, rs, ps, hs)
	if got := is.Alg(); got != "ES256" {
		t.Errorf("Alg() = %q, want the current key's ES256", got)
	}
	for _, k := range []token.Key{es, rs, ps, hs} {
		raw := issue(t, newIssuer(t, testConfig(testNow), k))
		if _, err := is.Verify(raw); err != nil {
			t.Errorf("Verify(token of the %s key) = %v, want nil", k.Alg, err)
		}
	}

	esDER, err := x509.MarshalPKIXPublicKey(es.Signer.Public())
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey: %v", err)
	}
	esPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esDER})
	rsDER, err := x509.MarshalPKIXPublicKey(rs.Signer.Public())
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey: %v", err)
	}
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})
	claims := claimsAt(testNow, nil)
	tests := []struct {
		name string
		raw  string
	}{
		// HS256 is allowed for the hs key, so the key-confusion token gets
		// past the algorithm list and must fail on the kid's own algorithm.
		{"HS256 with the ES256 public key PEM, kid es", forge(t, jwt.SigningMethodHS256, esPEM, headerFor(es.ID, nil), claims)},
		{"HS256 with the RS256 public key PEM, kid rs", forge(t, jwt.SigningMethodHS256, rsPEM, headerFor(rs.ID, nil), claims)},
		{"HS256 with the ES256 public key DER, kid es", forge(t, jwt.SigningMethodHS256, esDER, headerFor(es.ID, nil), claims)},
		// PS256 and RS256 are both allowed and the RSA key is the same: only
		// the kid's own algorithm tells these apart.
		{"PS256 with the RSA key, kid rs", forge(t, jwt.SigningMethodPS256, rs.Signer, headerFor(rs.ID, nil), claims)},
		{"RS256 with the RSA key, kid ps", forge(t, jwt.SigningMethodRS256, rs.Signer, headerFor(ps.ID, nil), claims)},
		{"RS256 with the RSA key, kid es", forge(t, jwt.SigningMethodRS256, rs.Signer, headerFor(es.ID, nil), claims)},
		{"ES256 with the ECDSA key, kid rs", forge(t, jwt.SigningMethodES256, es.Signer, headerFor(rs.ID, nil), claims)},
		{"ES256 with the ECDSA key, kid hs", forge(t, jwt.SigningMethodES256, es.Signer, headerFor(hs.ID, nil), claims)},
		{"HS256 with the HMAC secret, kid es", forge(t, jwt.SigningMethodHS256, hs.Secret, headerFor(es.ID, nil), claims)},
		{"alg none, kid hs", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, headerFor(hs.ID, nil), claims)},
	}
	for _, tt := range tests {
		c, err := is.Verify(tt.raw)
		if err == nil {
			t.Errorf("Verify(%s) = nil error, want ErrInvalid", tt.name)
			continue
		}
		if !errors.Is(err, token.ErrInvalid) {
			t.Errorf("Verify(%s) = %v, want ErrInvalid", tt.name, err)
		}
		if c != nil {
			t.Errorf("Verify(%s) returned claims with its error", tt.name)
		}
	}
}

// TestVerifyAcceptsForgedControl shows that the attack tokens are refused for
// the one thing that differs: the same construction with nothing changed passes.
func TestVerifyAcceptsForgedControl(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, alg)
			raw := tg.forge(t, headerFor(tg.key.ID, nil), claimsAt(tg.now, nil))
			if _, err := tg.is.Verify(raw); err != nil {
				t.Fatalf("Verify(control) = %v, want nil", err)
			}
			// typ is compared case-insensitively, with or without the
			// application/ prefix (RFC 7515 §4.1.9, RFC 9068 §2.1).
			for _, typ := range []string{"AT+JWT", "application/at+jwt", "Application/At+Jwt"} {
				raw := tg.forge(t, headerFor(tg.key.ID, map[string]any{"typ": typ}), claimsAt(tg.now, nil))
				if _, err := tg.is.Verify(raw); err != nil {
					t.Errorf("Verify(typ %q) = %v, want nil", typ, err)
				}
			}
		})
	}
}

func TestVerifyRejectsAttacks(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t, alg)
			for _, a := range attacks(t, tg) {
				c, err := tg.is.Verify(a.raw)
				if err == nil {
					t.Errorf("Verify(%s) = nil error, want ErrInvalid", a.name)
					continue
				}
				if !errors.Is(err, token.ErrInvalid) {
					t.Errorf("Verify(%s) = %v, want ErrInvalid", a.name, err)
				}
				if a.reason != nil && !errors.Is(err, a.reason) {
					t.Errorf("Verify(%s) = %v, want it to wrap %v", a.name, err, a.reason)
				}
				if c != nil {
					t.Errorf("Verify(%s) returned claims %+v with its error, want nil", a.name, c)
				}
			}
		})
	}
}

// TestVerifyIgnoresKeyURLs decides that jku, x5u, x5c and jwk headers on a token
// signed by our own key are ignored rather than refused: the key always comes
// from our key set by kid, so they cannot change which key verifies.
func TestVerifyIgnoresKeyURLs(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, "ES256")
	attacker := mustECDSA(t, elliptic.P256())
	raw := tg.forge(t, headerFor(tg.key.ID, map[string]any{
		"jku": "https://attacker.example/jwks.json",
		"x5u": "https://attacker.example/cert.pem",
		"x5c": []string{"MIIB"},
		"jwk": ecJWK(t, &attacker.PublicKey),
	}), claimsAt(tg.now, nil))
	c, err := tg.is.Verify(raw)
	if err != nil {
		t.Fatalf("Verify(our key with jku, x5u, x5c, jwk) = %v, want nil", err)
	}
	if c.UserID != testUserID || c.Email != testEmail {
		t.Errorf("Verify(our key with jku, x5u, x5c, jwk) = id %d email %q, want %d %q", c.UserID, c.Email, testUserID, testEmail)
	}
}

func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	key := newKey(t, "ES256", "k")
	raw := issue(t, newIssuer(t, testConfig(testNow), key))
	exp := testNow.Add(testTTL)
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"at issue", testNow, true},
		{"30 s before nbf (within leeway)", testNow.Add(-token.Leeway), true},
		{"31 s before nbf", testNow.Add(-token.Leeway - time.Second), false},
		{"an hour before nbf", testNow.Add(-time.Hour), false},
		{"just before exp", exp.Add(-time.Nanosecond), true},
		{"at exp (within leeway)", exp, true},
		{"1 s past exp (within leeway)", exp.Add(time.Second), true},
		{"29 s past exp (within leeway)", exp.Add(29 * time.Second), true},
		{"30 s past exp minus 1 ns (within leeway)", exp.Add(token.Leeway - time.Nanosecond), true},
		// exp+leeway itself is past: jwt wants now < exp+leeway (RFC 7519 §4.1.4).
		{"exactly 30 s past exp", exp.Add(token.Leeway), false},
		{"31 s past exp", exp.Add(token.Leeway + time.Second), false},
		{"a day past exp", exp.Add(24 * time.Hour), false},
	}
	for _, tt := range tests {
		is := newIssuer(t, testConfig(tt.now), key)
		_, err := is.Verify(raw)
		switch {
		case tt.ok && err != nil:
			t.Errorf("Verify(%s) = %v, want nil", tt.name, err)
		case !tt.ok && err == nil:
			t.Errorf("Verify(%s) = nil error, want ErrInvalid", tt.name)
		case !tt.ok && !errors.Is(err, token.ErrInvalid):
			t.Errorf("Verify(%s) = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestVerifyAudience(t *testing.T) {
	t.Parallel()
	key := newKey(t, "ES256", "k")
	noAud := newIssuer(t, testConfig(testNow), key)
	cfg := testConfig(testNow)
	cfg.Audience = testAudience
	withAud := newIssuer(t, cfg, key)
	other := testConfig(testNow)
	other.Audience = "https://other-api.example.test"
	otherAud := newIssuer(t, other, key)
	tg := target{is: withAud, key: key, method: jwt.SigningMethodES256, now: testNow}

	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"issued with our aud", issue(t, withAud), true},
		{"aud list containing ours", tg.forge(t, headerFor(key.ID, nil), claimsAt(testNow, map[string]any{"aud": []string{"https://other.example", testAudience}})), true},
		{"aud a string", tg.forge(t, headerFor(key.ID, nil), claimsAt(testNow, map[string]any{"aud": testAudience})), true},
		{"aud missing (issued without audience)", issue(t, noAud), false},
		{"wrong aud", issue(t, otherAud), false},
		{"aud empty list", tg.forge(t, headerFor(key.ID, nil), claimsAt(testNow, map[string]any{"aud": []string{}})), false},
		{"aud in another case", tg.forge(t, headerFor(key.ID, nil), claimsAt(testNow, map[string]any{"aud": strings.ToUpper(testAudience)})), false},
		{"aud a prefix of ours", tg.forge(t, headerFor(key.ID, nil), claimsAt(testNow, map[string]any{"aud": "https://api.example"})), false},
	}
	for _, tt := range tests {
		_, err := withAud.Verify(tt.raw)
		switch {
		case tt.ok && err != nil:
			t.Errorf("Verify(%s) = %v, want nil", tt.name, err)
		case !tt.ok && err == nil:
			t.Errorf("Verify(%s) = nil error, want ErrInvalid", tt.name)
		case !tt.ok && !errors.Is(err, token.ErrInvalid):
			t.Errorf("Verify(%s) = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "EdDSA", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			oldKey := newKey(t, alg, "2026-01")
			newK := newKey(t, alg, "2026-03")
			before := newIssuer(t, testConfig(testNow), oldKey)
			during := newIssuer(t, testConfig(testNow), newK, oldKey)
			after := newIssuer(t, testConfig(testNow), newK)

			oldRaw := issue(t, before)
			newRaw := issue(t, during)
			if kid := segment(t, newRaw, 0)["kid"]; kid != newK.ID {
				t.Errorf("Issue during rotation: kid = %v, want the current key %q", kid, newK.ID)
			}
			if _, err := during.Verify(oldRaw); err != nil {
				t.Errorf("Verify(token of the previous key) during rotation = %v, want nil", err)
			}
			if _, err := during.Verify(newRaw); err != nil {
				t.Errorf("Verify(token of the current key) during rotation = %v, want nil", err)
			}
			if _, err := after.Verify(oldRaw); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Verify(token of a retired key) = %v, want ErrInvalid", err)
			}
			if _, err := before.Verify(newRaw); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Verify(token of a key not yet known) = %v, want ErrInvalid", err)
			}
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	is := newIssuer(b, testConfig(testNow), newKey(b, "ES256", "k"))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := is.Issue(testUserID, testEmail, "session-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies the signature every time (the cache off): the cost
// of a token seen for the first time.
func BenchmarkVerify(b *testing.B) {
	cfg := testConfig(testNow)
	cfg.CacheSize = -1
	is := newIssuer(b, cfg, newKey(b, "ES256", "k"))
	raw := issue(b, is)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is a token seen before: the cost on the hot path.
func BenchmarkVerifyCached(b *testing.B) {
	is := newIssuer(b, testConfig(testNow), newKey(b, "ES256", "k"))
	raw := issue(b, is)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCachedTokenStillExpires: a token verified (and cached) before is refused
// once it has expired, like any other.
func TestCachedTokenStillExpires(t *testing.T) {
	now := testNow
	cfg := testConfig(now)
	cfg.Now = func() time.Time { return now }
	is := newIssuer(t, cfg, newKey(t, "ES256", "k"))
	raw := issue(t, is)
	for range 2 {
		if _, err := is.Verify(raw); err != nil {
			t.Fatalf("Verify(fresh token): %v", err)
		}
	}
	now = now.Add(cfg.TTL + token.Leeway)
	if _, err := is.Verify(raw); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("Verify(cached token after expiry) = %v, want ErrInvalid", err)
	}
	// A tampered copy of a cached token is not the cached token.
	now = testNow
	tampered := raw[:len(raw)-2] + "AA"
	if tampered != raw {
		if _, err := is.Verify(tampered); err == nil {
			t.Error("Verify(tampered copy of a cached token) = nil error")
		}
	}
}

// fuzzNow is the fuzz issuer's clock. The fuzz keys are derived from fixed
// seeds and the clock is fixed, so the valid tokens in testdata/fuzz/FuzzVerify
// stay valid.
var fuzzNow = time.Date(2026, time.January, 15, 9, 30, 0, 0, time.UTC)

func fuzzKey(t testing.TB, id string) token.Key {
	t.Helper()
	d := sha256.Sum256([]byte("sealauth fuzz key " + id))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatalf("ecdsa.ParseRawPrivateKey: %v", err)
	}
	return token.Key{ID: id, Alg: "ES256", Signer: priv}
}

func FuzzVerify(f *testing.F) {
	current, previous := fuzzKey(f, "fuzz-2026-01"), fuzzKey(f, "fuzz-2025-12")
	cfg := token.Config{Issuer: testIssuer, TTL: testTTL, Now: fixed(fuzzNow)}
	is := newIssuer(f, cfg, current, previous)
	known := map[string]bool{current.ID: true, previous.ID: true}

	f.Add(issue(f, is))
	f.Add(issue(f, newIssuer(f, cfg, previous)))
	tg := target{is: is, key: current, method: jwt.SigningMethodES256, now: fuzzNow}
	for _, a := range attacks(f, tg) {
		if len(a.raw) <= 4096 { // the 1 MB tokens would only slow the mutator
			f.Add(a.raw)
		}
	}

	f.Fuzz(func(t *testing.T, raw string) {
		c, err := is.Verify(raw)
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("Verify(%q) = %v, want ErrInvalid", raw, err)
			}
			if c != nil {
				t.Fatalf("Verify(%q) returned claims with its error", raw)
			}
			return
		}
		tok, _, err := jwt.NewParser().ParseUnverified(raw, &token.Claims{})
		if err != nil {
			t.Fatalf("Verify(%q) accepted a token jwt cannot parse: %v", raw, err)
		}
		if kid, _ := tok.Header["kid"].(string); !known[kid] {
			t.Fatalf("Verify(%q) accepted kid %q, want one of %v", raw, kid, known)
		}
		if alg := tok.Method.Alg(); alg != "ES256" {
			t.Fatalf("Verify(%q) accepted alg %q, want ES256", raw, alg)
		}
		if c.ExpiresAt == nil || !fuzzNow.Before(c.ExpiresAt.Add(token.Leeway)) {
			t.Fatalf("Verify(%q) accepted a token expiring at %v at %v", raw, c.ExpiresAt, fuzzNow)
		}
		if c.ID == "" || c.Subject != strconv.FormatInt(c.UserID, 10) || c.Issuer != testIssuer {
			t.Fatalf("Verify(%q) accepted claims %+v", raw, c)
		}
	})
}
