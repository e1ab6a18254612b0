package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzOpen feeds Open arbitrary kids and sealed values. Its committed seeds
// (testdata/fuzz/FuzzOpen) are real ciphertexts for testdata/fuzz_key.pem from
// openssl and node, in every base64 variant, and the classic bad inputs:
// PKCS #1 v1.5 and wrong-hash OAEP ciphertexts, 0, 1, n-1, n and values above
// n, wrong lengths and broken base64.
func FuzzOpen(f *testing.F) {
	key := fuzzKey(f)
	strict := NewOpener([]Key{{ID: "fuzz", Private: key}}, false)
	legacy := NewOpener([]Key{{ID: "fuzz", Private: key}}, true)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, kid, sealed string) {
		got, err := strict.Open(kid, sealed)
		legacyGot, legacyErr := legacy.Open(kid, sealed)
		switch err {
		case nil:
			// OAEP with SHA-256 leaves at most k - 2*32 - 2 bytes of message.
			if limit := key.Size() - 2*32 - 2; len(got) > limit {
				t.Fatalf("Open returned %d bytes, more than OAEP can carry (%d)", len(got), limit)
			}
			// Legacy mode tries OAEP first, so it must agree.
			if legacyErr != nil || !bytes.Equal(got, legacyGot) {
				t.Fatalf("strict Open = %q, legacy Open = %q, %v", got, legacyGot, legacyErr)
			}
		case ErrUnknownKey, ErrMalformed:
			if legacyErr != err {
				t.Fatalf("strict Open error = %v, legacy Open error = %v", err, legacyErr)
			}
		case ErrDecryption:
			if legacyErr != nil && legacyErr != ErrDecryption {
				t.Fatalf("strict Open error = %v, legacy Open error = %v", err, legacyErr)
			}
		default:
			t.Fatalf("Open error = %v, want nil or a bare sentinel", err)
		}
		if (kid != "" && kid != "fuzz") != (err == ErrUnknownKey) {
			t.Fatalf("Open(%q, …) error = %v", kid, err)
		}
		if err != ErrUnknownKey && err != ErrMalformed {
			// Everything that reached RSA decoded to exactly k bytes.
			if ct, err := DecodeBase64(sealed); err != nil || len(ct) != key.Size() {
				t.Fatalf("Open tried to decrypt %q, which decodes to %d bytes, %v", sealed, len(ct), err)
			}
		}
	})
}

// FuzzDecodeBase64 checks that DecodeBase64 accepts exactly the four
// canonical base64 spellings of a value, give or take line breaks and
// surrounding whitespace.
func FuzzDecodeBase64(f *testing.F) {
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeBase64(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeBase64(%q) error = %v, want it to wrap ErrMalformed", s, err)
			}
		} else {
			core := strings.NewReplacer("\r", "", "\n", "").Replace(strings.Trim(s, " \t\r\n"))
			if !isEncodingOf(core, got) {
				t.Fatalf("DecodeBase64(%q) = %x, but %q is no canonical encoding of it", s, got, core)
			}
		}

		// Whatever s is, its own encodings must decode back to it.
		if s == "" {
			return
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			encoded := enc.EncodeToString([]byte(s))
			back, err := DecodeBase64(encoded)
			if err != nil || string(back) != s {
				t.Fatalf("DecodeBase64(%q) = %q, %v; want %q", encoded, back, err, s)
			}
		}
	})
}

func isEncodingOf(s string, b []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc.EncodeToString(b) == s {
			return true
		}
	}
	return false
}

// TestFuzzOpenSeeds checks that the committed seeds of FuzzOpen still are what
// their names say, so that the fuzzer starts from real ciphertexts.
func TestFuzzOpenSeeds(t *testing.T) {
	key := fuzzKey(t)
	want := map[string]error{
		"oaep_openssl_base64_wrapped": nil,
		"oaep_openssl_kid":            nil,
		"oaep_url_unpadded":           nil,
		"oaep_url_padded":             nil,
		"oaep_std_unpadded":           nil,
		"oaep_node_base64url":         nil,
		"oaep_unknown_kid":            ErrUnknownKey,
		"oaep_trailing_garbage":       ErrMalformed,
		"oaep_mixed_alphabet":         ErrMalformed,
		"pkcs1v15":                    ErrDecryption, // Opens in legacy mode, below.
		"oaep_sha1":                   ErrDecryption,
		"oaep_mgf1_sha1":              ErrDecryption,
		"zero":                        ErrDecryption,
		"one":                         ErrDecryption,
		"n_minus_1":                   ErrDecryption,
		"n":                           ErrDecryption,
		"above_n":                     ErrDecryption,
		"short":                       ErrMalformed,
		"long":                        ErrMalformed,
		"padding_only":                ErrMalformed,
		"whitespace":                  ErrMalformed,
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzOpen"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("testdata/fuzz/FuzzOpen has %d seeds, want %d", len(entries), len(want))
	}
	strict := NewOpener([]Key{{ID: "fuzz", Private: key}}, false)
	legacy := NewOpener([]Key{{ID: "fuzz", Private: key}}, true)
	for name, wantErr := range want {
		args := readSeed(t, filepath.Join("testdata", "fuzz", "FuzzOpen", name))
		if len(args) != 2 {
			t.Fatalf("%s: %d values, want kid and sealed", name, len(args))
		}
		got, err := strict.Open(args[0], args[1])
		if err != wantErr {
			t.Errorf("%s: Open error = %v, want %v", name, err, wantErr)
		}
		if err == nil && string(got) != "correct horse battery staple" {
			t.Errorf("%s: Open = %q", name, got)
		}
	}
	args := readSeed(t, filepath.Join("testdata", "fuzz", "FuzzOpen", "pkcs1v15"))
	if got, err := legacy.Open(args[0], args[1]); err != nil || string(got) != "correct horse battery staple" {
		t.Errorf("pkcs1v15 in legacy mode: Open = %q, %v", got, err)
	}
}

// readSeed returns the string values of a corpus file in the "go test fuzz
// v1" format.
func readSeed(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz corpus file", path)
	}
	var values []string
	for _, line := range lines[1:] {
		quoted, ok := strings.CutPrefix(line, "string(")
		if !ok || !strings.HasSuffix(quoted, ")") {
			t.Fatalf("%s: unexpected line %q", path, line)
		}
		v, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		values = append(values, v)
	}
	return values
}
