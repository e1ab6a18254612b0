package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// JWK is a public JSON Web Key (RFC 7517) for RSA (RFC 7518 §6.3), EC (RFC
// 7518 §6.2) or OKP Ed25519 (RFC 8037) keys. Members that do not apply to the
// key type are empty and left out of the JSON.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a JWK Set (RFC 7517 §5), the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes pub, which must be an *rsa.PublicKey, an
// *ecdsa.PublicKey on P-256, P-384 or P-521, or an ed25519.PublicKey, as a JWK
// with the given kid, alg and use (any of which may be empty). A private key is
// refused, so that it cannot end up in a JWKS by mistake.
func PublicJWK(pub crypto.PublicKey, kid, alg, use string) (JWK, error) {
	jwk, err := publicParams(pub)
	if err != nil {
		return JWK{}, err
	}
	jwk.Kid, jwk.Alg, jwk.Use = kid, alg, use
	return jwk, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the SHA-256 of its
// required JWK members in lexicographic order, base64url without padding.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk, err := publicParams(pub)
	if err != nil {
		return "", err
	}
	// Struct fields are marshalled in declaration order, so each struct below
	// lists the required members of its key type in the order RFC 7638 §3.2
	// prescribes. The values are base64url or fixed names: JSON never has to
	// escape them, so encoding/json's output is the canonical form.
	var members any
	switch jwk.Kty {
	case "RSA":
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{jwk.E, jwk.Kty, jwk.N}
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{jwk.Crv, jwk.Kty, jwk.X, jwk.Y}
	case "OKP":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{jwk.Crv, jwk.Kty, jwk.X}
	}
	canonical, err := json.Marshal(members)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// publicParams fills in kty and the key parameters of pub's JWK.
func publicParams(pub crypto.PublicKey) (JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.N.Sign() <= 0 || k.E <= 0 {
			return JWK{}, errors.New("keys: invalid RSA public key")
		}
		// RFC 7518 §6.3.1: both are unsigned big-endian integers in their
		// shortest form; big.Int.Bytes gives exactly that.
		return JWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		crv := curveName(k.Curve)
		if crv == "" {
			return JWK{}, fmt.Errorf("keys: %s has no JWK curve name", describePublic(k))
		}
		// Bytes is 0x04 || X || Y with both coordinates padded to the field
		// size, which is the fixed length RFC 7518 §6.2.1.2 requires.
		point, err := k.Bytes()
		if err != nil {
			return JWK{}, errors.New("keys: invalid ECDSA public key")
		}
		size := (len(point) - 1) / 2
		return JWK{Kty: "EC", Crv: crv, X: b64(point[1 : 1+size]), Y: b64(point[1+size:])}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return JWK{}, errors.New("keys: invalid Ed25519 public key")
		}
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	default:
		return JWK{}, fmt.Errorf("keys: cannot describe a %T as a public JWK", pub)
	}
}

// curveName returns the JWK "crv" of a NIST curve (RFC 7518 §6.2.1.1), or "".
func curveName(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "P-256"
	case elliptic.P384():
		return "P-384"
	case elliptic.P521():
		return "P-521"
	}
	return ""
}
