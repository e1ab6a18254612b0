package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/password"
)

// Hashes of "tutorial-pass-2024" made by bcryptjs 3 (an independent implementation
// that writes $2b$, as Python's bcrypt does) and by bcryptjs 2 ($2a$). $2y$ is PHP's
// name for the same algorithm, so the $2b$ hash with its prefix renamed must verify.
const (
	hash2b = "$2b$04$Nwdsp0ZWJRRuSPk9jBa8b.vtjF4BomW0fd9q5S.HLdyE4VY6/Q4mi"
	hash2a = "$2a$04$PaYxnNHK6ARTvIa1FHWJ1uUDmfFAutXq7CnjmT8g2kK5ynT/YGDPK"
	hash2y = "$2y$04$Nwdsp0ZWJRRuSPk9jBa8b.vtjF4BomW0fd9q5S.HLdyE4VY6/Q4mi"
)

func TestForeignHashesVerify(t *testing.T) {
	h, err := password.NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{hash2b, hash2a, hash2y} {
		if err := h.Compare(hash, "tutorial-pass-2024"); err != nil {
			t.Errorf("Compare(%.7s…, right password) = %v, want nil", hash, err)
		}
		if err := h.Compare(hash, "tutorial-pass-2025"); !errors.Is(err, password.ErrMismatch) {
			t.Errorf("Compare(%.7s…, wrong password) = %v, want ErrMismatch", hash, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h, err := password.NewHasher(5)
	if err != nil {
		t.Fatal(err)
	}
	if !h.NeedsRehash(hash2b) {
		t.Error("NeedsRehash(cost 4 hash) at cost 5 = false, want true")
	}
	fresh, err := h.Hash("a fresh password")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(fresh) {
		t.Error("NeedsRehash(cost 5 hash) at cost 5 = true, want false")
	}
	if err := h.Compare(fresh, "a fresh password"); err != nil {
		t.Errorf("Compare(fresh hash) = %v", err)
	}
}

func TestNewHasherRejectsBadCost(t *testing.T) {
	for _, cost := range []int{0, 3, 32} {
		if _, err := password.NewHasher(cost); err == nil {
			t.Errorf("NewHasher(%d) = nil error, want one", cost)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
		err  error
	}{
		{name: "ascii unchanged", raw: "plain old words", want: "plain old words"},
		{name: "decomposed accent composes", raw: "cafe\u0301 au lait", want: "café au lait"},
		{name: "full-width digits fold", raw: "ｐａｓｓ１２３４５", want: "pass12345"},
		{name: "64 characters allowed", raw: strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		{name: "65 characters refused", raw: strings.Repeat("a", 65), err: password.ErrTooLong},
		{name: "over 72 bytes refused", raw: strings.Repeat("é", 37), err: password.ErrTooLong},
		{name: "invalid utf-8", raw: "abc\xffdefgh", err: password.ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := password.Normalize([]byte(tt.raw))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) err = %v, want %v", tt.raw, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		pw  string
		err error
	}{
		{pw: "short", err: password.ErrTooShort},
		{pw: "12345678", err: password.ErrCommon}, // the tutorial's sample
		{pw: "PASSWORD", err: password.ErrCommon},
		{pw: "iloveyou", err: password.ErrCommon},
		{pw: "correct horse battery staple"},
		{pw: "日本語のパスワードです"},
	}
	for _, tt := range tests {
		if err := password.Validate(tt.pw); !errors.Is(err, tt.err) {
			t.Errorf("Validate(%q) = %v, want %v", tt.pw, err, tt.err)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	h, err := password.NewHasher(4)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Compare(hash2b, "tutorial-pass-2024")
	}
}
