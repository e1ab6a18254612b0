// Package password holds the rules for passwords and their bcrypt hashes.
package password

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Limits follow NIST SP 800-63B: length only, no composition rules. MaxBytes is
// bcrypt's: it silently ignores everything past 72 bytes, so a longer password
// would match any password sharing its first 72 bytes.
const (
	MinChars = 8
	MaxChars = 64
	MaxBytes = 72
)

// Errors returned by Normalize and Validate. Their texts are safe to show users.
var (
	ErrInvalidUTF8 = errors.New("must be valid UTF-8")
	ErrTooShort    = fmt.Errorf("must be at least %d characters", MinChars)
	ErrTooLong     = fmt.Errorf("must be at most %d characters and %d bytes", MaxChars, MaxBytes)
	ErrCommon      = errors.New("is too common; choose a less guessable password")
	ErrMismatch    = errors.New("password does not match")
)

// Normalize turns an opened password into the string that is hashed: NFKC, so the
// same password typed on different keyboards (composed or decomposed accents,
// full-width digits) hashes the same. It enforces the upper bound, which applies at
// login too: a longer password could never be told apart by bcrypt.
func Normalize(raw []byte) (string, error) {
	if !utf8.Valid(raw) {
		return "", ErrInvalidUTF8
	}
	pw := norm.NFKC.String(string(raw))
	if utf8.RuneCountInString(pw) > MaxChars || len(pw) > MaxBytes {
		return "", ErrTooLong
	}
	return pw, nil
}

// Validate applies the rules for a new password (register, password change) to a
// normalised password.
func Validate(pw string) error {
	if utf8.RuneCountInString(pw) < MinChars {
		return ErrTooShort
	}
	if _, ok := commonPasswords()[strings.ToLower(pw)]; ok {
		return ErrCommon
	}
	return nil
}

// commonPasswords is the 30,000 most frequent leaked passwords from zxcvbn's lists,
// built once on first use and never changed after.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[p] = struct{}{}
	}
	return set
})

// Hasher hashes and checks passwords with bcrypt at a fixed cost.
type Hasher struct {
	cost  int
	dummy func() []byte // a real hash at cost, compared against when no user exists
}

// NewHasher returns a Hasher for cost (bcrypt.MinCost to bcrypt.MaxCost). It
// starts computing the hash Dummy compares against in the background: the
// server need not wait for it to start, and it is ready long before a login.
func NewHasher(cost int) (*Hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy := sync.OnceValue(func() []byte {
		// Only an invalid cost can fail, and it was checked above.
		h, _ := bcrypt.GenerateFromPassword([]byte("sealauth dummy password"), cost)
		return h
	})
	go dummy()
	return &Hasher{cost: cost, dummy: dummy}, nil
}

// Cost is the configured bcrypt cost.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of a normalised password.
func (h *Hasher) Hash(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	return string(b), err
}

// Compare reports whether pw matches hash ($2a$, $2b$ and $2y$ hashes all verify).
// It returns ErrMismatch for a wrong password and another error for a hash that
// cannot be parsed.
func (h *Hasher) Compare(hash, pw string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return ErrMismatch
	}
	return err
}

// Dummy spends the time of one comparison, so that a login for an unknown email
// takes as long as one with a wrong password.
func (h *Hasher) Dummy(pw string) {
	_ = bcrypt.CompareHashAndPassword(h.dummy(), []byte(pw))
}

// NeedsRehash reports whether hash was made at a lower cost than configured, so a
// successful login should store a fresh hash.
func (h *Hasher) NeedsRehash(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err == nil && c < h.cost
}
