package authtest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

// TestKeys checks the key part of the auth.Store contract. open is as for
// TestStore.
func TestKeys(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Helper()
	ctx := t.Context()
	base := baseTime()
	s := open(t)

	if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("Keys(empty store) = %v, %v, want none", keys, err)
	}
	// Binary blobs with every byte value must round-trip.
	blob := make([]byte, 512)
	for i := range blob {
		blob[i] = byte(i)
	}
	add := []auth.KeyRecord{
		{ID: "sig-new", Kind: auth.KeySigning, Alg: "ES256", PrivateEnc: []byte{1, 2, 3}, CreatedAt: base.Add(time.Hour)},
		{ID: "seal-1", Kind: auth.KeySealing, Alg: "RSA-OAEP-256", PrivateEnc: blob, CreatedAt: base},
		{ID: "sig-old", Kind: auth.KeySigning, Alg: "ES256", PrivateEnc: []byte{4}, CreatedAt: base.Add(time.Minute)},
	}
	for _, k := range add {
		if err := s.AddKey(ctx, k); err != nil {
			t.Fatalf("AddKey(%s): err = %v", k.ID, err)
		}
	}
	if err := s.AddKey(ctx, add[0]); !errors.Is(err, auth.ErrKeyExists) {
		t.Errorf("AddKey(duplicate): err = %v, want ErrKeyExists", err)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"seal-1", "sig-old", "sig-new"}
	if len(keys) != len(wantOrder) {
		t.Fatalf("Keys() returned %d keys, want %d", len(keys), len(wantOrder))
	}
	byID := map[string]auth.KeyRecord{}
	for _, k := range add {
		byID[k.ID] = k
	}
	for i, k := range keys {
		want := byID[wantOrder[i]]
		if k.ID != want.ID || k.Kind != want.Kind || k.Alg != want.Alg || !bytes.Equal(k.PrivateEnc, want.PrivateEnc) || !k.RetiredAt.IsZero() {
			t.Errorf("Keys()[%d] = %s/%s/%s (%d bytes), want %s/%s/%s (%d bytes), oldest first", i,
				k.ID, k.Kind, k.Alg, len(k.PrivateEnc), want.ID, want.Kind, want.Alg, len(want.PrivateEnc))
		}
		checkTime(t, "Keys: CreatedAt", k.CreatedAt, want.CreatedAt)
	}
	if err := s.RetireKey(ctx, "sig-old", base.Add(2*time.Hour)); err != nil {
		t.Fatalf("RetireKey: err = %v", err)
	}
	if err := s.RetireKey(ctx, "sig-old", base.Add(3*time.Hour)); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("RetireKey(twice): err = %v, want ErrNotFound", err)
	}
	if err := s.RetireKey(ctx, "nope", base); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("RetireKey(unknown): err = %v, want ErrNotFound", err)
	}
	keys, err = s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if retired := !k.RetiredAt.IsZero(); retired != (k.ID == "sig-old") {
			t.Errorf("key %s: RetiredAt = %v", k.ID, k.RetiredAt)
		}
		if k.ID == "sig-old" {
			checkTime(t, "RetiredAt", k.RetiredAt, base.Add(2*time.Hour))
		}
	}
}
