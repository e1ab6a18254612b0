package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/big"
	"testing"
)

// The RSA key of RFC 7638 §3.1.
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638E          = "AQAB"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

// The Ed25519 key of RFC 8037 appendix A.2 and its thumbprint from A.3.
const (
	rfc8037X          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func TestThumbprintRFCExamples(t *testing.T) {
	n := new(big.Int).SetBytes(mustB64(t, rfc7638N))
	e := int(new(big.Int).SetBytes(mustB64(t, rfc7638E)).Int64())
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"RFC 7638 §3.1 RSA", &rsa.PublicKey{N: n, E: e}, rfc7638Thumbprint},
		{"RFC 8037 A.3 Ed25519", ed25519.PublicKey(mustB64(t, rfc8037X)), rfc8037Thumbprint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Thumbprint(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Thumbprint = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPublicJWKRFC7638(t *testing.T) {
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(mustB64(t, rfc7638N)), E: 65537}
	got, err := PublicJWK(pub, "2011-04-29", RS256, "")
	if err != nil {
		t.Fatal(err)
	}
	want := JWK{Kty: "RSA", Alg: RS256, Kid: "2011-04-29", N: rfc7638N, E: rfc7638E}
	if got != want {
		t.Errorf("PublicJWK = %+v, want %+v", got, want)
	}
}

// TestPublicJWKMatchesNode checks every key type against Node's own JWK export
// and against an RFC 7638 thumbprint computed by Node.
func TestPublicJWKMatchesNode(t *testing.T) {
	const script = `
const crypto = require('crypto');
const fs = require('fs');
const jwk = crypto.createPublicKey(fs.readFileSync(process.argv[1])).export({format: 'jwk'});
const required = {RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x']}[jwk.kty];
const canonical = JSON.stringify(Object.fromEntries(required.map(k => [k, jwk[k]])));
jwk.thumbprint = crypto.createHash('sha256').update(canonical).digest('base64url');
process.stdout.write(JSON.stringify(jwk));
`
	for _, alg := range []string{ES256, RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k, err := GenerateSigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, err := PublicKeyPEM(k.Key.Public())
			if err != nil {
				t.Fatal(err)
			}
			out := runTool(t, nil, "node", "-e", script, writeFile(t, "pub.pem", pubPEM))
			var node struct {
				JWK
				Thumbprint string `json:"thumbprint"`
			}
			if err := json.Unmarshal(out, &node); err != nil {
				t.Fatalf("node output %q: %v", out, err)
			}
			got, err := k.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			want := node.JWK
			want.Kid, want.Alg, want.Use = k.ID, alg, UseSig
			if got != want {
				t.Errorf("PublicJWK = %+v\nnode says %+v", got, want)
			}
			if k.ID != node.Thumbprint {
				t.Errorf("ID = %s, node's RFC 7638 thumbprint = %s", k.ID, node.Thumbprint)
			}
		})
	}
}

func TestPublicJWKRefusesOtherTypes(t *testing.T) {
	k, err := GenerateSigningKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{
		"private key":       k.Key,
		"nil":               nil,
		"short Ed25519 key": ed25519.PublicKey{1, 2, 3},
		"RSA without N":     &rsa.PublicKey{E: 65537},
	} {
		if _, err := PublicJWK(pub, "", "", ""); err == nil {
			t.Errorf("PublicJWK(%s): no error", name)
		}
		if _, err := Thumbprint(pub); err == nil {
			t.Errorf("Thumbprint(%s): no error", name)
		}
	}
}

func TestSealingJWK(t *testing.T) {
	priv, err := GenerateSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := SealingJWK(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(JWKS{Keys: []JWK{got}})
	if err != nil {
		t.Fatal(err)
	}
	// Compare the decoded JSON, so that omitted and present members are both
	// checked without depending on member order.
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"kty": "RSA",
		"use": "enc",
		"alg": "RSA-OAEP-256",
		"kid": kid,
		"n":   base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
		"e":   "AQAB",
	}
	if len(doc.Keys) != 1 || !maps.Equal(doc.Keys[0], want) {
		t.Errorf("JWKS = %s, want one key %v", data, want)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
