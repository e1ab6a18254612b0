package keys

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ReadPrivateKeyFile reads the private key at path, in any form that
// ParsePrivateKeyPEM accepts. A missing file yields an error that matches
// fs.ErrNotExist.
func ReadPrivateKeyFile(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	key, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	return key, nil
}

// WritePrivateKeyFile writes key to path as PKCS #8 PEM with mode 0600,
// replacing any file already there. It writes a temporary file in the same
// directory and renames it, so a reader sees either the old key or the new
// one, never half a key. The directory is created with mode 0700 if missing.
func WritePrivateKeyFile(path string, key crypto.Signer) error {
	tmp, err := writeTemp(path, key)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // The rename error is the one worth reporting.
		return fmt.Errorf("keys: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// LoadOrCreate reads the private key at path or, if there is no file there,
// calls create and stores the key it returns at path as WritePrivateKeyFile
// does; created reports which happened.
//
// When several processes share the directory and start at the same time,
// all of them end up with the key that reached the disk first: the new file
// is published with a hard link, which, unlike a rename, fails if the name is
// already taken.
func LoadOrCreate(path string, create func() (crypto.Signer, error)) (key crypto.Signer, created bool, err error) {
	key, err = ReadPrivateKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if key, err = create(); err != nil {
		return nil, false, err
	}
	tmp, err := writeTemp(path, key)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = os.Remove(tmp) }() // After a successful link the key lives on under path.
	switch err := os.Link(tmp, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		key, err := ReadPrivateKeyFile(path)
		return key, false, err
	default:
		// Some file systems (FAT, several FUSE and network ones) have no hard
		// links. Renaming still publishes the file atomically; it only gives
		// up the protection against a concurrent start.
		if err := os.Rename(tmp, path); err != nil {
			return nil, false, fmt.Errorf("keys: %w", err)
		}
	}
	syncDir(filepath.Dir(path))
	return key, true, nil
}

// LoadOrCreateSealingKey loads the RSA sealing key at path, or generates an
// RSA-2048 key and stores it there; created reports which happened.
func LoadOrCreateSealingKey(path string) (key *rsa.PrivateKey, created bool, err error) {
	signer, created, err := LoadOrCreate(path, func() (crypto.Signer, error) { return GenerateSealingKey() })
	if err != nil {
		return nil, false, err
	}
	rk, ok := signer.(*rsa.PrivateKey)
	if !ok {
		return nil, false, fmt.Errorf("keys: %s holds %s, but the sealing key must be RSA (%d bits or more); move the file away (a new key is generated at the next start) or run `sealauth keys generate`", path, describe(signer), MinRSABits)
	}
	return rk, created, nil
}

// LoadOrCreateSigningKey loads the JWT signing key at path, or generates a key
// for alg and stores it there; created reports which happened. A stored key
// that cannot sign alg yields an *AlgMismatchError.
func LoadOrCreateSigningKey(path, alg string) (key SigningKey, created bool, err error) {
	// Check alg before touching the disk, so that a typo in the configuration
	// does not leave a key file behind.
	if err := CheckAlg(alg); err != nil {
		return SigningKey{}, false, err
	}
	signer, created, err := LoadOrCreate(path, func() (crypto.Signer, error) { return generateSigner(alg) })
	if err != nil {
		return SigningKey{}, false, err
	}
	if !canSign(alg, signer) {
		return SigningKey{}, false, &AlgMismatchError{File: path, Alg: alg, Have: describe(signer)}
	}
	key, err = NewSigningKey(alg, signer)
	return key, created, err
}

// writeTemp writes key, PKCS #8 PEM encoded, to a new file next to path and
// returns its name. The data is flushed to disk before the file is published,
// because losing the sealing or signing key in a crash locks every client out.
func writeTemp(path string, key crypto.Signer) (string, error) {
	data, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	// CreateTemp opens the file with mode 0600, so the key is never readable
	// by others, not even between creation and rename.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name()) // The write error is the one worth reporting.
		return "", fmt.Errorf("keys: %w", err)
	}
	return f.Name(), nil
}

// syncDir flushes the directory entry of a newly published file. It is best
// effort: some platforms cannot sync a directory, and the key file itself has
// already been synced.
func syncDir(dir string) {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
