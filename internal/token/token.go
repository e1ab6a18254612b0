// Package token issues and verifies the JWT access tokens (RFC 9068 profile).
package token

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Type is the JOSE "typ" header of access tokens (RFC 9068 §2.1).
const Type = "at+jwt"

// MaxLen bounds the tokens Verify parses; ours are well under 1 KiB.
const MaxLen = 8 << 10

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

// ErrInvalid is returned for every token that is not accepted. The reason is in the
// wrapped error for logs; clients only learn that the token is invalid.
var ErrInvalid = errors.New("invalid token")

// ErrUnknownKey is wrapped in ErrInvalid when the token's kid names none of our
// keys: the token may come from a key another instance rotated to moments ago.
var ErrUnknownKey = errors.New("unknown kid")

// Claims are the claims of an access token. UserID is the tutorial's numeric "id"
// claim; Subject carries the same id as a string, as RFC 9068 wants.
type Claims struct {
	jwt.RegisteredClaims
	UserID    int64  `json:"id"`
	Email     string `json:"email"`
	SessionID string `json:"sid,omitempty"`
}

// Key is a signing key: a crypto.Signer for the asymmetric algorithms, or the
// secret []byte for HS256.
type Key struct {
	ID     string
	Alg    string
	Signer crypto.Signer
	Secret []byte
}

func (k Key) verifyKey() any {
	if k.Signer != nil {
		return k.Signer.Public()
	}
	return k.Secret
}

func (k Key) signKey() any {
	if k.Signer != nil {
		return k.Signer
	}
	return k.Secret
}

// Config holds what an Issuer needs besides its keys.
type Config struct {
	Issuer   string
	Audience string // optional; when set it is issued and required
	TTL      time.Duration
	Now      func() time.Time
	// CacheSize bounds the cache of verified tokens; 0 means DefaultCacheSize,
	// a negative size turns the cache off.
	CacheSize int
}

// Issuer signs access tokens with its current key and verifies them against every
// key it holds (the current one first; older ones stay until their tokens expire).
type Issuer struct {
	cfg     Config
	current Key
	method  jwt.SigningMethod
	keys    map[string]Key
	parser  *jwt.Parser
	cache   *cache
}

// NewIssuer returns an Issuer that signs with keys[0] and verifies with all of
// them. Each key is pinned to its own algorithm: a token is checked only with
// the algorithm of the key its kid names.
func NewIssuer(cfg Config, keys ...Key) (*Issuer, error) {
	if len(keys) == 0 {
		return nil, errors.New("token: no signing key")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("token: TTL must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Issuer == "" {
		// golang-jwt skips the iss check when the expected issuer is empty.
		return nil, errors.New("token: no issuer")
	}
	byID := make(map[string]Key, len(keys))
	var algs []string
	for _, k := range keys {
		if k.ID == "" {
			return nil, errors.New("token: key without an id")
		}
		if _, dup := byID[k.ID]; dup {
			return nil, fmt.Errorf("token: key id %q used twice", k.ID)
		}
		if m := jwt.GetSigningMethod(k.Alg); m == nil || k.Alg == "none" {
			return nil, fmt.Errorf("token: unsupported algorithm %q", k.Alg)
		}
		if (k.Signer == nil) == (k.Alg != "HS256") || (k.Alg == "HS256" && len(k.Secret) < 32) {
			return nil, fmt.Errorf("token: key %s does not fit %s", k.ID, k.Alg)
		}
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
		byID[k.ID] = k
	}
	method := jwt.GetSigningMethod(keys[0].Alg)
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable base64 tails
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Issuer{cfg: cfg, current: keys[0], method: method, keys: byID, parser: jwt.NewParser(opts...), cache: newCache(cfg.CacheSize)}, nil
}

// Alg is the signing algorithm.
func (is *Issuer) Alg() string { return is.method.Alg() }

// TTL is the lifetime of issued tokens.
func (is *Issuer) TTL() time.Duration { return is.cfg.TTL }

// Issue signs a new access token for a user and returns it with its claims.
func (is *Issuer) Issue(userID int64, email, sessionID string) (string, *Claims, error) {
	now := is.cfg.Now().UTC().Truncate(time.Second)
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    is.cfg.Issuer,
			Subject:   strconv.FormatInt(userID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(is.cfg.TTL)),
			ID:        rand.Text(), // 128 random bits
		},
		UserID:    userID,
		Email:     email,
		SessionID: sessionID,
	}
	if is.cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{is.cfg.Audience}
	}
	t := jwt.NewWithClaims(is.method, c)
	t.Header["typ"] = Type
	t.Header["kid"] = is.current.ID
	s, err := t.SignedString(is.current.signKey())
	if err != nil {
		return "", nil, fmt.Errorf("token: sign: %w", err)
	}
	return s, c, nil
}

// Verify parses and checks a token (a token verified before, and still
// unexpired, is taken from a bounded cache): the pinned algorithm, one of our keys by kid
// (never a key the token names or carries: jku, x5u and jwk are ignored), typ
// at+jwt, no crit, our issuer (and audience), exp required, nbf and iat honoured.
// Any failure is ErrInvalid.
func (is *Issuer) Verify(raw string) (*Claims, error) {
	if len(raw) > MaxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	}
	now := is.cfg.Now()
	if c, ok := is.cache.get(raw, now); ok {
		return c, nil
	}
	c := new(Claims)
	t, err := is.parser.ParseWithClaims(raw, c, is.keyFor)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !t.Valid {
		return nil, ErrInvalid
	}
	if c.ID == "" || c.Subject != strconv.FormatInt(c.UserID, 10) {
		return nil, fmt.Errorf("%w: jti missing or sub does not match id", ErrInvalid)
	}
	is.cache.put(raw, c, now)
	return c, nil
}

func (is *Issuer) keyFor(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, errors.New("typ is not at+jwt")
	}
	// RFC 7515 §4.1.11: a recipient must reject crit extensions it does not
	// understand, and we understand none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("crit header present")
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := is.keys[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	if t.Method.Alg() != k.Alg {
		return nil, fmt.Errorf("alg %s does not match key %s", t.Method.Alg(), kid)
	}
	return k.verifyKey(), nil
}
