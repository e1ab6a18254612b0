package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKeys are the two RSA keys the tests share, generated once per test
// binary because RSA key generation is slow.
var testKeys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return keys, err
		}
		keys[i] = k
	}
	return keys, nil
})

// keyPair returns the shared current and previous keys.
func keyPair(t testing.TB) (current, previous *rsa.PrivateKey) {
	t.Helper()
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys[0], keys[1]
}

// newOpener returns an Opener with the shared keys, named "current" and
// "previous".
func newOpener(t testing.TB, legacy bool) *Opener {
	t.Helper()
	current, previous := keyPair(t)
	return NewOpener([]Key{{ID: "current", Private: current}, {ID: "previous", Private: previous}}, legacy)
}

// fuzzKey returns the fixed key of testdata/fuzz_key.pem, which the committed
// fuzz seeds were sealed to. Its PEM label says TESTING KEY instead of PRIVATE
// KEY (the trick crypto/rsa's own examples use) so that secret scanners do not
// mistake a published test key for a leaked one.
func fuzzKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(strings.ReplaceAll(string(data), "TESTING KEY", "PRIVATE KEY")))
	if block == nil {
		t.Fatal("testdata/fuzz_key.pem: no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(*rsa.PrivateKey)
}

// requireTool returns the path of an external program the interoperability
// tests need. Locally a missing program skips the test; in CI (CI set) it fails
// it, so that interoperability is never silently left unchecked there.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI: %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// runTool runs name with args and stdin and returns its standard output,
// failing the test with the program's standard error if it fails.
func runTool(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), requireTool(t, name), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// writePEMs writes key's PKCS #8 private key and SPKI public key to files in a
// test directory and returns their names.
func writePEMs(t testing.TB, key *rsa.PrivateKey) (privFile, pubFile string) {
	t.Helper()
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile = filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return privFile, pubFile
}
