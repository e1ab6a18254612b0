package keyring

import (
	"crypto/sha256"
	"encoding/base64"
)

// secretID names an HS256 secret without revealing it: a hash of a secret of
// at least 256 bits.
func secretID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return "hs256-" + base64.RawURLEncoding.EncodeToString(sum[:12])
}
