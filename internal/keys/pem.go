package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Parse errors are built without the "keys: " prefix so that the exported
// functions can add it, or the file name, exactly once. They never wrap the
// errors of crypto/x509 or encoding/asn1: those describe the bytes they choked
// on, and the bytes are key material.

// ParseRSAPrivateKeyPEM parses an RSA private key in PEM form: PKCS #8
// ("BEGIN PRIVATE KEY", as OpenSSL 3 writes it) or PKCS #1 ("BEGIN RSA PRIVATE
// KEY", as older OpenSSL and `openssl genrsa -traditional` write it). It
// refuses keys shorter than MinRSABits and encrypted keys.
func ParseRSAPrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	key, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keys: the PEM data holds %s, want an RSA key", describe(key))
	}
	return rk, nil
}

// ParseRSAPublicKeyPEM parses an RSA public key in PEM form: SubjectPublicKeyInfo
// ("BEGIN PUBLIC KEY", as `openssl rsa -pubout` writes it) or PKCS #1 ("BEGIN
// RSA PUBLIC KEY"). It refuses keys shorter than MinRSABits.
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("keys: the PUBLIC KEY block is not a valid SubjectPublicKeyInfo")
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("keys: the PEM data holds %s, want an RSA key", describePublic(k))
		}
		pub = rk
	case "RSA PUBLIC KEY":
		rk, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("keys: the RSA PUBLIC KEY block is not a valid PKCS #1 public key")
		}
		pub = rk
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		// Say so plainly: a private key where a public one belongs is a
		// mistake worth stopping, not something to derive from silently.
		return nil, fmt.Errorf("keys: found a %s block where a public key was expected; extract the public key with `openssl pkey -in key.pem -pubout`", block.Type)
	default:
		return nil, fmt.Errorf("keys: found a PEM block of type %q, want PUBLIC KEY or RSA PUBLIC KEY", block.Type)
	}
	if err := checkRSABits(pub.N.BitLen()); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pub, nil
}

// ParsePrivateKeyPEM parses a private key that can sign JWTs: RSA of at least
// MinRSABits, ECDSA on P-256, or Ed25519. It reads PKCS #8 ("BEGIN PRIVATE
// KEY"), which is what MarshalPrivateKeyPEM writes, and for keys made by older
// tools also PKCS #1 ("BEGIN RSA PRIVATE KEY") and SEC 1 ("BEGIN EC PRIVATE
// KEY", optionally preceded by the "EC PARAMETERS" block of `openssl ecparam`).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return key, nil
}

// MarshalPrivateKeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		// Only the key's type can be wrong here, and x509 names nothing else.
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyPEM encodes pub as a SubjectPublicKeyInfo "PUBLIC KEY" PEM block, the
// form that `openssl pkeyutl -pubin` and Node's crypto.createPublicKey read.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// parsePrivateKey decodes the first private key block of data and checks that
// the key is one this package can use.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("the private key is encrypted; sealauth needs it unencrypted (decrypt it with `openssl pkey -in key.pem -out plain.pem`) and protected by file permissions")
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return nil, errors.New("the PRIVATE KEY block is not a valid PKCS #8 private key")
		}
	case "RSA PRIVATE KEY":
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, errors.New("the RSA PRIVATE KEY block is not a valid PKCS #1 private key")
		}
	case "EC PRIVATE KEY":
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, errors.New("the EC PRIVATE KEY block is not a valid SEC 1 private key")
		}
	default:
		return nil, fmt.Errorf("found a PEM block of type %q, want PRIVATE KEY", block.Type)
	}
	return checkSigner(key)
}

// checkSigner accepts exactly the key types and sizes that sealauth can use.
func checkSigner(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if err := checkRSABits(k.N.BitLen()); err != nil {
			return nil, err
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the ECDSA key uses %s; only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("the PEM data holds %s, which cannot sign JWTs; use RSA, ECDSA P-256 or Ed25519", describe(key))
	}
}

func checkRSABits(bits int) error {
	if bits < MinRSABits {
		return fmt.Errorf("RSA key is %d bits; at least %d are required", bits, MinRSABits)
	}
	return nil
}

// firstKeyBlock returns the first PEM block of data, skipping the "EC
// PARAMETERS" block that `openssl ecparam -genkey` writes before the key.
func firstKeyBlock(data []byte) (*pem.Block, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM block found")
		}
		if block.Type != "EC PARAMETERS" {
			return block, nil
		}
		data = rest
	}
}

// describe names the type of a private key, for error messages. It must never
// print anything of the key but its type and size.
func describe(key any) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return describePublic(&k.PublicKey)
	case *ecdsa.PrivateKey:
		return describePublic(&k.PublicKey)
	case ed25519.PrivateKey:
		return describePublic(k.Public())
	default:
		return fmt.Sprintf("a key of type %T", key)
	}
}

// describePublic is describe for public keys. The algorithm in parentheses
// tells an operator which JWT_ALG the key would serve.
func describePublic(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA-%d key (RS256 or PS256)", k.N.BitLen())
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "an ECDSA P-256 key (ES256)"
		}
		return fmt.Sprintf("an ECDSA %s key", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "an Ed25519 key (EdDSA)"
	default:
		return fmt.Sprintf("a key of type %T", pub)
	}
}
