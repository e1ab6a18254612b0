package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSealingKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Missing: LoadOrCreate makes it.
	path := filepath.Join(dir, SealingKeyFile)

	first, created, err := LoadOrCreateSealingKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first LoadOrCreateSealingKey: created = false, want true")
	}
	if bits := first.N.BitLen(); bits != 2048 {
		t.Errorf("generated sealing key has %d bits, want 2048", bits)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)
	assertOnlyFiles(t, dir, SealingKeyFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("%s starts with %q, want a PKCS #8 PEM block", path, firstLine(data))
	}
	// openssl must read what we wrote.
	runTool(t, nil, "openssl", "pkey", "-in", path, "-noout")

	second, created, err := LoadOrCreateSealingKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second LoadOrCreateSealingKey: created = true, want false")
	}
	if !second.Equal(first) {
		t.Error("second LoadOrCreateSealingKey returned a different key")
	}
}

func TestLoadOrCreateSealingKeyFromOpenSSL(t *testing.T) {
	// Operators may bring their own key, in either format openssl writes.
	for _, traditional := range []bool{false, true} {
		args := []string{"genrsa", "-out", "OUT", "2048"}
		if traditional {
			args = []string{"genrsa", "-traditional", "-out", "OUT", "2048"}
		}
		path := writeFile(t, SealingKeyFile, opensslKey(t, args...))
		key, created, err := LoadOrCreateSealingKey(path)
		if err != nil {
			t.Fatalf("traditional=%v: %v", traditional, err)
		}
		if created || key.N.BitLen() != 2048 {
			t.Errorf("traditional=%v: created = %v, bits = %d; want false, 2048", traditional, created, key.N.BitLen())
		}
	}
}

func TestLoadOrCreateSealingKeyNotRSA(t *testing.T) {
	path := writeKey(t, SealingKeyFile, EdDSA)
	_, _, err := LoadOrCreateSealingKey(path)
	want := "keys: " + path + " holds an Ed25519 key (EdDSA), but the sealing key must be RSA (2048 bits or more); move the file away (a new key is generated at the next start) or run `sealauth keys generate`"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestLoadOrCreateSigningKey(t *testing.T) {
	for _, alg := range []string{ES256, RS256, PS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), SigningKeyFile)
			first, created, err := LoadOrCreateSigningKey(path, alg)
			if err != nil {
				t.Fatal(err)
			}
			if !created || first.Alg != alg {
				t.Errorf("first call: created = %v, Alg = %s; want true, %s", created, first.Alg, alg)
			}
			assertMode(t, path, 0o600)
			second, created, err := LoadOrCreateSigningKey(path, alg)
			if err != nil {
				t.Fatal(err)
			}
			if created || second.ID != first.ID {
				t.Errorf("second call: created = %v, ID = %s; want false, %s", created, second.ID, first.ID)
			}
		})
	}
}

func TestLoadOrCreateSigningKeyMismatch(t *testing.T) {
	path := writeKey(t, SigningKeyFile, ES256)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadOrCreateSigningKey(path, RS256)
	var mismatch *AlgMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("error = %v, want *AlgMismatchError", err)
	}
	want := "keys: " + path + " holds an ECDSA P-256 key (ES256) but JWT_ALG is RS256; move the file away (a new key is generated at the next start) or run `sealauth keys generate`"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	// PS256 and RS256 share RSA keys, so switching between them is fine.
	rsaPath := writeKey(t, SigningKeyFile, RS256)
	if _, _, err := LoadOrCreateSigningKey(rsaPath, PS256); err != nil {
		t.Errorf("RS256 key loaded for PS256: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the mismatched key file was modified")
	}
}

func TestLoadOrCreateLeavesBadFilesAlone(t *testing.T) {
	garbage := []byte("not a key\n")
	path := writeFile(t, SigningKeyFile, garbage)
	_, _, err := LoadOrCreateSigningKey(path, EdDSA)
	if want := "keys: " + path + ": no PEM block found"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if data, _ := os.ReadFile(path); !bytes.Equal(data, garbage) {
		t.Error("the unreadable key file was overwritten")
	}
}

func TestLoadOrCreateUnsupportedAlgWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateSigningKey(filepath.Join(dir, SigningKeyFile), "HS256"); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("error = %v, want ErrUnsupportedAlg", err)
	}
	assertOnlyFiles(t, dir)
}

func TestLoadOrCreateCreateFails(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	_, _, err := LoadOrCreate(filepath.Join(dir, "k.pem"), func() (crypto.Signer, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want %v", err, boom)
	}
	assertOnlyFiles(t, dir)
}

// TestLoadOrCreateConcurrent starts many "servers" on an empty directory at
// once: all of them must end up with the same key, and only one may report
// that it created it.
func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SigningKeyFile)
	const n = 16
	keys := make([]crypto.Signer, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			keys[i], created[i], err = LoadOrCreate(path, func() (crypto.Signer, error) {
				_, k, err := ed25519.GenerateKey(rand.Reader)
				return k, err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if created[i] {
			creators++
		}
		if !keys[0].(ed25519.PrivateKey).Equal(keys[i]) {
			t.Errorf("caller %d got a different key than caller 0", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report having created the key, want 1", creators)
	}
	assertOnlyFiles(t, dir, SigningKeyFile)
}

func TestWritePrivateKeyFileReplaces(t *testing.T) {
	path := writeKey(t, SigningKeyFile, EdDSA)
	k, err := GenerateSigningKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKeyFile(path, k.Key); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Key.(ed25519.PrivateKey).Equal(got) {
		t.Error("ReadPrivateKeyFile does not return the key just written")
	}
	assertMode(t, path, 0o600)
	assertOnlyFiles(t, filepath.Dir(path), SigningKeyFile)
}

func TestReadPrivateKeyFileMissing(t *testing.T) {
	_, err := ReadPrivateKeyFile(filepath.Join(t.TempDir(), "nope.pem"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want one matching fs.ErrNotExist", err)
	}
}

// writeKey writes a new key for alg to a file called name in a new directory.
func writeKey(t *testing.T, name, alg string) string {
	t.Helper()
	k, err := GenerateSigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := WritePrivateKeyFile(path, k.Key); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return // Windows has no Unix permission bits.
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

// assertOnlyFiles fails if dir holds anything but names, such as a temporary
// file left behind.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
