// Package seal opens passwords that clients sealed with the server's RSA public
// key, and seals them for the CLI and tests.
//
// A sealed password is the RSA-OAEP encryption of the password with SHA-256 as
// both the OAEP hash and the MGF1 hash and an empty label (JWK alg
// "RSA-OAEP-256"), encoded in base64. It is what WebCrypto's
// {name: "RSA-OAEP", hash: "SHA-256"}, Node's crypto.publicEncrypt with
// oaepHash "sha256" and `openssl pkeyutl -pkeyopt rsa_padding_mode:oaep
// -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256` produce.
package seal

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors of Opener.Open. They are returned bare, never wrapped, so that nothing
// about a failed attempt reaches the caller beyond which of them occurred.
var (
	// ErrUnknownKey means the kid names none of the Opener's keys, typically
	// because the client sealed with a key that has since been retired: it
	// should fetch the JWKS again.
	ErrUnknownKey = errors.New("seal: unknown key")
	// ErrMalformed means the sealed value is not base64, or has the wrong
	// length to be a ciphertext of the key.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrDecryption means the ciphertext did not decrypt. Like
	// rsa.ErrDecryption it deliberately says nothing more.
	ErrDecryption = errors.New("seal: decryption error")
)

// minRSABits matches keys.MinRSABits; Seal refuses to encrypt a password to a
// weaker key.
const minRSABits = 2048

// Seal encrypts password to pub the way clients do: RSA-OAEP with SHA-256 and
// MGF1-SHA-256, an empty label and randomness from crypto/rand, encoded in
// standard base64. Passwords longer than the key allows (190 bytes for
// RSA-2048) are refused.
func Seal(pub *rsa.PublicKey, password []byte) (string, error) {
	if pub == nil || pub.N == nil || pub.N.BitLen() < minRSABits {
		return "", fmt.Errorf("seal: the public key must be RSA of at least %d bits", minRSABits)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, password, nil)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// The four base64 variants DecodeBase64 accepts. They are never modified; they
// are variables only because Strict returns a pointer.
var (
	stdPadded = base64.StdEncoding.Strict()
	stdRaw    = base64.RawStdEncoding.Strict()
	urlPadded = base64.URLEncoding.Strict()
	urlRaw    = base64.RawURLEncoding.Strict()
)

// DecodeBase64 decodes s in standard or URL-safe base64, padded or not. It
// ignores spaces, tabs and line breaks around s and line breaks inside it (as
// `openssl base64` wraps its output every 64 characters). It rejects empty
// input, a mix of the two alphabets, and encodings with non-zero trailing bits,
// so that every accepted value has exactly one spelling per variant. Its
// errors wrap ErrMalformed.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.Trim(s, " \t\r\n")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	enc := stdRaw
	switch urlSafe, padded := strings.ContainsAny(s, "-_"), strings.HasSuffix(s, "="); {
	case urlSafe && padded:
		enc = urlPadded
	case urlSafe:
		enc = urlRaw
	case padded:
		enc = stdPadded
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}
