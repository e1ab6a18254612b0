package keyring_test

import (
	"bytes"

	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/keyring"
	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/store/sqlite"
	"github.com/sealauth/sealauth/internal/token"
)

// clock is a settable time source for the overlap windows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	dir   string
	store *sqlite.Store
	clock *clock
	kek   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "keys.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, keyring.KEKSize)
	_, _ = rand.Read(kek)
	return &fixture{dir: dir, store: st, clock: &clock{t: time.Now().UTC()}, kek: kek}
}

// advance moves the clock and reloads r, as its timer would.
func (f *fixture) advance(t *testing.T, r *keyring.Ring, d time.Duration) {
	t.Helper()
	f.clock.Add(d)
	if err := r.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) ring(t *testing.T, alg string) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(t.Context(), f.store, keyring.Config{
		KEK:        f.kek,
		SigningAlg: alg,
		Token:      token.Config{Issuer: "test", TTL: 15 * time.Minute, Now: f.clock.Now},
	}, keyring.Files{Sealing: filepath.Join(f.dir, "sealing.pem"), Signing: filepath.Join(f.dir, "signing.pem")})
	if err != nil {
		t.Fatalf("keyring.New: %v", err)
	}
	return r
}

func publicKey(t *testing.T, r *keyring.Ring) (string, *seal.Key) {
	t.Helper()
	var doc struct {
		KID       string `json:"kid"`
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal(r.PublicKeyJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	pub, err := keys.ParseRSAPublicKeyPEM([]byte(doc.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal.Seal(pub, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return sealed, &seal.Key{ID: doc.KID}
}

func jwksKIDs(t *testing.T, r *keyring.Ring) []string {
	t.Helper()
	var set keys.JWKS
	if err := json.Unmarshal(r.JWKSJSON(), &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

func TestSealingRotationOverlap(t *testing.T) {
	f := newFixture(t)
	r := f.ring(t, "ES256")
	oldSealed, oldKey := publicKey(t, r)

	rec, err := r.Rotate(t.Context(), auth.KeySealing)
	if err != nil {
		t.Fatal(err)
	}
	// Until every instance has it, the new key opens passwords but is not served.
	if _, k := publicKey(t, r); k.ID != oldKey.ID {
		t.Fatalf("public key right after rotation = %s, want still %s", k.ID, oldKey.ID)
	}
	f.advance(t, r, keyring.ActivationDelay+time.Second)
	newSealed, newKey := publicKey(t, r)
	if newKey.ID != rec.ID || newKey.ID == oldKey.ID {
		t.Fatalf("public key after rotation = %s, want the new key %s", newKey.ID, rec.ID)
	}
	for name, c := range map[string]struct{ kid, sealed string }{
		"old, no kid": {"", oldSealed}, "old, kid": {oldKey.ID, oldSealed},
		"new, no kid": {"", newSealed}, "new, kid": {newKey.ID, newSealed},
	} {
		if pw, err := r.Open(c.kid, c.sealed); err != nil || string(pw) != "pw" {
			t.Errorf("Open(%s) within the overlap = %q, %v", name, pw, err)
		}
	}

	f.advance(t, r, keyring.DefaultSealingOverlap+time.Second)
	if _, err := r.Open(oldKey.ID, oldSealed); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("Open(old kid) after the overlap: err = %v, want ErrUnknownKey", err)
	}
	if _, err := r.Open("", oldSealed); !errors.Is(err, seal.ErrDecryption) {
		t.Errorf("Open(old, no kid) after the overlap: err = %v, want ErrDecryption", err)
	}
	if pw, err := r.Open("", newSealed); err != nil || string(pw) != "pw" {
		t.Errorf("Open(new) after the overlap = %q, %v", pw, err)
	}
}

func TestSigningRotationKeepsOldKeyUntilTokensExpire(t *testing.T) {
	f := newFixture(t)
	r := f.ring(t, "ES256")
	oldTok, _, err := r.Issue(1, "a@example.com", "s")
	if err != nil {
		t.Fatal(err)
	}
	_, oldKID := r.Current()
	rec, err := r.Rotate(t.Context(), auth.KeySigning)
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, r); len(got) != 2 {
		t.Errorf("JWKS right after rotation = %v, want the new key published before it is used", got)
	}
	if _, kid := r.Current(); kid != oldKID {
		t.Errorf("signing key right after rotation = %s, want still %s", kid, oldKID)
	}
	f.advance(t, r, keyring.DefaultSigningActivation+time.Second)
	newTok, _, err := r.Issue(1, "a@example.com", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, kid := r.Current(); kid != rec.ID {
		t.Fatalf("current signing key = %s, want %s", kid, rec.ID)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := r.Verify(tok); err != nil {
			t.Errorf("Verify(%s token) after rotation: %v", name, err)
		}
	}
	if got := jwksKIDs(t, r); len(got) != 2 || got[0] != rec.ID || got[1] != oldKID {
		t.Errorf("JWKS kids = %v, want [%s %s]", got, rec.ID, oldKID)
	}

	// Once every token the old key signed has expired, it leaves the JWKS.
	f.advance(t, r, 15*time.Minute+token.Leeway+2*keyring.ReloadInterval+time.Second)
	if got := jwksKIDs(t, r); len(got) != 1 || got[0] != rec.ID {
		t.Errorf("JWKS kids after the window = %v, want [%s]", got, rec.ID)
	}
}

func TestRetire(t *testing.T) {
	f := newFixture(t)
	r := f.ring(t, "ES256")
	_, old := r.Current()
	if err := r.Retire(t.Context(), old); err == nil {
		t.Fatal("Retire(current signing key) = nil error, want a refusal")
	}
	tok, _, err := r.Issue(1, "a@example.com", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(t.Context(), auth.KeySigning); err != nil {
		t.Fatal(err)
	}
	f.advance(t, r, keyring.DefaultSigningActivation+time.Second)
	if err := r.Retire(t.Context(), old); err != nil {
		t.Fatalf("Retire(previous key): %v", err)
	}
	if _, err := r.Verify(tok); err == nil {
		t.Error("a token of a retired key still verifies")
	}
	list, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]keyring.Status{}
	for _, k := range list {
		states[k.ID] = k.Status
	}
	if states[old] != keyring.StatusRetired {
		t.Errorf("List: %s is %s, want retired", old, states[old])
	}
}

// TestAnotherInstanceSeesRotation: two rings on one store, as two servers; a
// rotation on one is used by the other on its next reload, or at once when a
// request names the new key.
func TestAnotherInstanceSeesRotation(t *testing.T) {
	f := newFixture(t)
	a, b := f.ring(t, "ES256"), f.ring(t, "ES256")
	if sa, _ := a.Current(); func() string { sb, _ := b.Current(); return sb }() != sa {
		t.Fatal("two instances on one store have different sealing keys")
	}
	if _, err := a.Rotate(t.Context(), auth.KeySigning); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Rotate(t.Context(), auth.KeySealing); err != nil {
		t.Fatal(err)
	}
	// A starts using the new keys; B has not reloaded since (as if its timer
	// had not fired yet) and must reload when it meets them.
	f.advance(t, a, keyring.DefaultSigningActivation+time.Second)
	time.Sleep(1100 * time.Millisecond) // B reloads on demand at most once a second
	tok, _, err := a.Issue(7, "x@example.com", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(tok); err != nil {
		t.Errorf("instance B: Verify(token from A's new key): %v", err)
	}
	sealed, key := publicKey(t, a)
	if pw, err := b.Open(key.ID, sealed); err != nil || string(pw) != "pw" {
		t.Errorf("instance B: Open(sealed to A's new key) = %q, %v", pw, err)
	}
}

func TestPrivateKeysEncryptedAtRest(t *testing.T) {
	f := newFixture(t)
	f.ring(t, "RS256")
	recs, err := f.store.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range recs {
		if bytes.Contains(k.PrivateEnc, []byte("PRIVATE KEY")) || bytes.Contains(k.PrivateEnc, []byte{0x30, 0x82}) {
			t.Errorf("key %s is stored in clear", k.ID)
		}
	}
	db, err := os.ReadFile(filepath.Join(f.dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte("PRIVATE KEY")) {
		t.Error("the database file contains a PEM private key")
	}
	// Another master key cannot load them, and says what to do.
	other := *f
	other.kek = make([]byte, keyring.KEKSize)
	_, err = keyring.New(t.Context(), f.store, keyring.Config{KEK: other.kek, SigningAlg: "RS256", Token: token.Config{Issuer: "t", TTL: time.Minute}},
		keyring.Files{Sealing: filepath.Join(f.dir, "sealing.pem"), Signing: filepath.Join(f.dir, "signing.pem")})
	if !errors.Is(err, keyring.ErrWrongKEK) {
		t.Errorf("New with another master key: err = %v, want ErrWrongKEK", err)
	}
}

func TestSeedImportsExistingFile(t *testing.T) {
	f := newFixture(t)
	priv, err := keys.GenerateSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WritePrivateKeyFile(filepath.Join(f.dir, "sealing.pem"), priv); err != nil {
		t.Fatal(err)
	}
	kid, err := keys.Thumbprint(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	r := f.ring(t, "EdDSA")
	if s, _ := r.Current(); s != kid {
		t.Errorf("current sealing key = %s, want the file's %s", s, kid)
	}
	// Restarting with the same file changes nothing; a rotation stays current.
	rec, err := r.Rotate(t.Context(), auth.KeySealing)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(keyring.ActivationDelay + time.Second)
	if s, _ := f.ring(t, "EdDSA").Current(); s != rec.ID {
		t.Errorf("after restart the current sealing key = %s, want the rotated %s", s, rec.ID)
	}
}

func TestLoadKEK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k1, created, err := keyring.LoadKEK("", path)
	if err != nil || !created || len(k1) != keyring.KEKSize {
		t.Fatalf("LoadKEK(new file) = %d bytes, created %v, %v", len(k1), created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master key file mode = %v, %v, want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := keyring.LoadKEK("", path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Errorf("LoadKEK(existing file) differs or was recreated: %v", err)
	}
	if _, _, err := keyring.LoadKEK("c2hvcnQ=", path); err == nil {
		t.Error("LoadKEK(short env value) = nil error")
	}
	env := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	k3, _, err := keyring.LoadKEK(env, path)
	if err != nil || k3[31] != 31 {
		t.Errorf("LoadKEK(env) = %v, %v", k3, err)
	}
}
