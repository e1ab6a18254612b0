package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealauth/sealauth/internal/auth"
)

// KEKSize is the size of the key-encryption key: AES-256.
const KEKSize = 32

// MasterKeyFile is where the embedded default keeps its key-encryption key when
// SEALAUTH_MASTER_KEY is not set.
const MasterKeyFile = "master.key"

// LoadKEK returns the key-encryption key: the base64 value of
// SEALAUTH_MASTER_KEY if set, else the key in path, created (0600) if missing.
// Instances that share a database must share this key.
func LoadKEK(envValue, path string) ([]byte, bool, error) {
	if envValue != "" {
		k, err := decodeKEK(envValue)
		if err != nil {
			return nil, false, fmt.Errorf("SEALAUTH_MASTER_KEY: %w", err)
		}
		return k, false, nil
	}
	data, err := os.ReadFile(path) // #nosec G304 -- the operator's data dir
	if err == nil {
		k, err := decodeKEK(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k := make([]byte, KEKSize)
	_, _ = rand.Read(k)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: of two instances starting on one data dir, one writes the key and
	// the other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- as above
	if errors.Is(err, fs.ErrExist) {
		return LoadKEK("", path)
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	return k, true, f.Close()
}

func decodeKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KEKSize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want the base64 of %d random bytes (make one with `openssl rand -base64 32`)", KEKSize)
}

// ErrWrongKEK means a stored key does not decrypt: it was encrypted under
// another key-encryption key, or changed.
var ErrWrongKEK = errors.New("stored key does not decrypt with this master key; every instance sharing the database needs the same SEALAUTH_MASTER_KEY")

// aad binds a ciphertext to its key's identity, so that a stored blob cannot
// be moved to another row.
func aad(kind auth.KeyKind, id string) []byte { return []byte(string(kind) + "\x00" + id) }

func encrypt(kek []byte, kind auth.KeyKind, id string, plain []byte) ([]byte, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, aad(kind, id)), nil
}

func decrypt(kek []byte, kind auth.KeyKind, id string, blob []byte) ([]byte, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(blob) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrWrongKEK
	}
	plain, err := gcm.Open(nil, blob[:gcm.NonceSize()], blob[gcm.NonceSize():], aad(kind, id))
	if err != nil {
		return nil, ErrWrongKEK
	}
	return plain, nil
}

func newGCM(kek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
