package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
)

// ErrUnsupportedAlg is returned, wrapped, for a signing algorithm other than
// ES256, RS256, PS256 and EdDSA.
var ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm")

// SigningKey is a private key that signs JWTs with one algorithm.
type SigningKey struct {
	// ID is the RFC 7638 thumbprint of the public key, used as the JWT "kid".
	ID string
	// Alg is ES256, RS256, PS256 or EdDSA.
	Alg string
	// Key is an *ecdsa.PrivateKey on P-256 for ES256, an *rsa.PrivateKey of at
	// least MinRSABits for RS256 and PS256, or an ed25519.PrivateKey for EdDSA.
	Key crypto.Signer
}

// AlgMismatchError reports a signing key whose type cannot produce the
// configured algorithm, such as an ECDSA key when RS256 is configured.
type AlgMismatchError struct {
	// File is the key file, or "" if the key did not come from a file.
	File string
	// Alg is the configured algorithm.
	Alg string
	// Have describes the key, such as "an ECDSA P-256 key (ES256)".
	Have string
}

// Error tells the operator how to get out of the mismatch: generating a new
// key is the only fix that keeps the configuration, and it invalidates every
// token signed with the old one, so the choice is theirs.
func (e *AlgMismatchError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("keys: %s cannot sign %s", e.Have, e.Alg)
	}
	return fmt.Sprintf("keys: %s holds %s but JWT_ALG is %s; move the file away (a new key is generated at the next start) or run `sealauth keys generate`", e.File, e.Have, e.Alg)
}

// CheckAlg reports whether alg is a signing algorithm this package supports;
// the error wraps ErrUnsupportedAlg.
func CheckAlg(alg string) error {
	switch alg {
	case ES256, RS256, PS256, EdDSA:
		return nil
	}
	return fmt.Errorf("%w %q; want ES256, RS256, PS256 or EdDSA", ErrUnsupportedAlg, alg)
}

// GenerateSigningKey generates a new key for alg: P-256 for ES256, RSA-2048 for
// RS256 and PS256, Ed25519 for EdDSA.
func GenerateSigningKey(alg string) (SigningKey, error) {
	key, err := generateSigner(alg)
	if err != nil {
		return SigningKey{}, err
	}
	return NewSigningKey(alg, key)
}

// NewSigningKey checks that key can sign alg and names it by its thumbprint. A
// key of the wrong type yields an *AlgMismatchError.
func NewSigningKey(alg string, key crypto.Signer) (SigningKey, error) {
	if err := CheckAlg(alg); err != nil {
		return SigningKey{}, err
	}
	if _, err := checkSigner(key); err != nil {
		return SigningKey{}, fmt.Errorf("keys: %w", err)
	}
	if !canSign(alg, key) {
		return SigningKey{}, &AlgMismatchError{Alg: alg, Have: describe(key)}
	}
	id, err := Thumbprint(key.Public())
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: id, Alg: alg, Key: key}, nil
}

// PublicJWK returns the public half of k as a JWK with use "sig".
func (k SigningKey) PublicJWK() (JWK, error) {
	return PublicJWK(k.Key.Public(), k.ID, k.Alg, UseSig)
}

// GenerateSealingKey generates an RSA-2048 key for sealing passwords.
func GenerateSealingKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return nil, fmt.Errorf("keys: generate sealing key: %w", err)
	}
	return key, nil
}

// SealingJWK returns the JWK that tells clients how to seal passwords for pub:
// kid is its thumbprint, use "enc" and alg RSA-OAEP-256.
func SealingJWK(pub *rsa.PublicKey) (JWK, error) {
	kid, err := Thumbprint(pub)
	if err != nil {
		return JWK{}, err
	}
	return PublicJWK(pub, kid, AlgRSAOAEP256, UseEnc)
}

// generateSigner generates a key of the type alg needs.
func generateSigner(alg string) (crypto.Signer, error) {
	if err := CheckAlg(alg); err != nil {
		return nil, err
	}
	var (
		key crypto.Signer
		err error
	)
	switch alg {
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256, PS256:
		key, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	return key, nil
}

// canSign reports whether key, already accepted by checkSigner, suits alg.
func canSign(alg string, key crypto.Signer) bool {
	switch key.(type) {
	case *ecdsa.PrivateKey:
		return alg == ES256
	case *rsa.PrivateKey:
		return alg == RS256 || alg == PS256
	case ed25519.PrivateKey:
		return alg == EdDSA
	}
	return false
}
