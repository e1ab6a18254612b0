package seal

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
)

func TestOpen(t *testing.T) {
	current, previous := keyPair(t)
	password := []byte("correct horse battery staple")
	toCurrent := mustSeal(t, &current.PublicKey, password)
	toPrevious := mustSeal(t, &previous.PublicKey, password)
	ct, err := base64.StdEncoding.DecodeString(toCurrent)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString

	tests := []struct {
		name    string
		kid     string
		sealed  string
		wantErr error // nil: want password
	}{
		{name: "current key by kid", kid: "current", sealed: toCurrent},
		{name: "current key without kid", sealed: toCurrent},
		{name: "previous key by kid", kid: "previous", sealed: toPrevious},
		{name: "previous key without kid", sealed: toPrevious},
		{name: "URL-safe unpadded", kid: "current", sealed: base64.RawURLEncoding.EncodeToString(ct)},
		{name: "URL-safe padded", sealed: base64.URLEncoding.EncodeToString(ct)},
		{name: "standard unpadded", sealed: base64.RawStdEncoding.EncodeToString(ct)},
		{name: "wrapped and indented", sealed: "\n  " + wrap(toCurrent, 64, "\r\n") + "\n"},
		{name: "unknown kid", kid: "retired", sealed: toCurrent, wantErr: ErrUnknownKey},
		{name: "kid is case-sensitive", kid: "Current", sealed: toCurrent, wantErr: ErrUnknownKey},
		{name: "kid names the wrong key", kid: "current", sealed: toPrevious, wantErr: ErrDecryption},
		{name: "empty", sealed: "", wantErr: ErrMalformed},
		{name: "not base64", sealed: "not base64!", wantErr: ErrMalformed},
		{name: "hex", sealed: "0x" + strings.Repeat("ab", 256), wantErr: ErrMalformed},
		{name: "one byte short", sealed: b64(ct[1:]), wantErr: ErrMalformed},
		{name: "one byte long", sealed: b64(append([]byte{0}, ct...)), wantErr: ErrMalformed},
		{name: "twice the length", sealed: b64(append(bytes.Clone(ct), ct...)), wantErr: ErrMalformed},
		{name: "huge", sealed: strings.Repeat("A", 1<<20), wantErr: ErrMalformed},
		{name: "one bit flipped", sealed: b64(flip(ct, 100)), wantErr: ErrDecryption},
		{name: "last bit flipped", sealed: b64(flip(ct, len(ct)-1)), wantErr: ErrDecryption},
		{name: "zero", sealed: b64(make([]byte, 256)), wantErr: ErrDecryption},
		{name: "one", sealed: b64(append(make([]byte, 255), 1)), wantErr: ErrDecryption},
		{name: "modulus", sealed: b64(current.N.FillBytes(make([]byte, 256))), wantErr: ErrDecryption},
		{name: "all ones, above the modulus", sealed: b64(bytes.Repeat([]byte{0xff}, 256)), wantErr: ErrDecryption},
	}
	for _, legacy := range []bool{false, true} {
		o := newOpener(t, legacy)
		for _, tc := range tests {
			got, err := o.Open(tc.kid, tc.sealed)
			if err != tc.wantErr { // Identity, not errors.Is: the errors must be bare.
				t.Errorf("legacy=%v %s: Open(%q, …) error = %v, want %v", legacy, tc.name, tc.kid, err, tc.wantErr)
				continue
			}
			if tc.wantErr == nil && !bytes.Equal(got, password) {
				t.Errorf("legacy=%v %s: Open = %q, want %q", legacy, tc.name, got, password)
			}
		}
	}
}

func TestOpenerKeyOrder(t *testing.T) {
	current, previous := keyPair(t)
	o := NewOpener([]Key{{ID: "a", Private: previous}, {ID: "b", Private: current}}, false)
	if got := o.Current(); got.ID != "a" || got.Private != previous {
		t.Errorf("Current() = %s, want the first key, a", got.ID)
	}
}

func TestNewOpenerCopiesKeys(t *testing.T) {
	current, previous := keyPair(t)
	keys := []Key{{ID: "current", Private: current}}
	o := NewOpener(keys, false)
	keys[0] = Key{ID: "swapped", Private: previous}
	if got := o.Current().ID; got != "current" {
		t.Errorf("after the caller changed its slice, Current().ID = %s, want current", got)
	}
}

func TestNewOpenerPanics(t *testing.T) {
	for name, keys := range map[string][]Key{
		"no keys":        nil,
		"no private key": {{ID: "k"}},
		"no modulus":     {{ID: "k", Private: &rsa.PrivateKey{}}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewOpener did not panic")
				}
			}()
			NewOpener(keys, false)
		})
	}
}

// TestOpenConcurrent exercises one Opener from many goroutines; run with
// -race it checks that Open shares no mutable state.
func TestOpenConcurrent(t *testing.T) {
	current, previous := keyPair(t)
	o := newOpener(t, true)
	// Seal up front: t.Fatal may only be called from the test's goroutine.
	var sealed [8]string
	for i := range sealed {
		pub := &current.PublicKey
		if i%2 == 1 {
			pub = &previous.PublicKey
		}
		sealed[i] = mustSeal(t, pub, []byte(strings.Repeat("p", i+1)))
	}
	var wg sync.WaitGroup
	for i := range sealed {
		wg.Go(func() {
			want := []byte(strings.Repeat("p", i+1))
			for range 4 {
				got, err := o.Open("", sealed[i])
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("goroutine %d: Open = %q, %v; want %q", i, got, err, want)
					return
				}
				if _, err := o.Open("", "AAAA"); err != ErrMalformed {
					t.Errorf("goroutine %d: Open(garbage) error = %v, want ErrMalformed", i, err)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkOpen(b *testing.B) {
	o := newOpener(b, false)
	sealed := mustSeal(b, &o.Current().Private.PublicKey, []byte("correct horse battery staple"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Open("current", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenPreviousKeyWithoutKid measures the worst valid case of a
// rotation: no kid, and the password sealed to the second key.
func BenchmarkOpenPreviousKeyWithoutKid(b *testing.B) {
	o := newOpener(b, false)
	_, previous := keyPair(b)
	sealed := mustSeal(b, &previous.PublicKey, []byte("correct horse battery staple"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Open("", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenGarbageLegacy measures what an attacker's garbage costs in
// legacy mode: OAEP and PKCS #1 v1.5 with both keys.
func BenchmarkOpenGarbageLegacy(b *testing.B) {
	o := newOpener(b, true)
	sealed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 256))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Open("", sealed); err != ErrDecryption {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	sealed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 256))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBase64(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func mustSeal(t testing.TB, pub *rsa.PublicKey, password []byte) string {
	t.Helper()
	sealed, err := Seal(pub, password)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// flip returns a copy of b with the low bit of b[i] inverted.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1
	return b
}
