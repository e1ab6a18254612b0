// Package keyring keeps the server's sealing and signing keys in the store,
// where every instance sees them: private halves encrypted under a
// key-encryption key, rotated and retired while the service keeps answering.
//
// The newest live key of a kind is the current one. A sealing key that was
// replaced still opens passwords for the overlap window (clients may hold the
// old public key); a signing key that was replaced stays in the JWKS and
// verifies tokens until every token it can have signed has expired.
package keyring

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/token"
)

// Store is what the ring needs of the database.
type Store interface {
	AddKey(ctx context.Context, k auth.KeyRecord) error
	Keys(ctx context.Context) ([]auth.KeyRecord, error)
	RetireKey(ctx context.Context, id string, at time.Time) error
}

// ReloadInterval is how often Run re-reads the keys: the delay before a
// rotation made elsewhere is used here (an unknown kid triggers a reload at once).
const ReloadInterval = 2 * time.Second

// DefaultSealingOverlap is how long a replaced sealing key still opens passwords.
const DefaultSealingOverlap = 24 * time.Hour

// Config configures a Ring.
type Config struct {
	KEK            []byte
	SigningAlg     string // ES256, RS256, PS256, EdDSA, or HS256 with Secret
	Secret         []byte
	Token          token.Config
	SealingOverlap time.Duration
	// SigningActivation is how long a new signing key is only published;
	// default DefaultSigningActivation.
	SigningActivation time.Duration
	LegacyPKCS1       bool
	Logger            *slog.Logger
}

// Files are key files to seed the store from: a key in one that the store
// lacks is imported as the current key of its kind (the tutorial's
// private.pem, say). Where the store has no key and the file does not exist,
// a new key is generated and written there (0600) as well as stored.
type Files struct {
	Sealing, Signing string
}

// Ring is the live set of keys. It implements auth.Opener, auth.Tokens and
// httpapi.Keys, and is safe for concurrent use.
type Ring struct {
	store Store
	cfg   Config
	state atomic.Pointer[state]

	mu         sync.Mutex // serialises reloads; guards parsed and lastReload
	parsed     map[string]crypto.Signer
	lastReload time.Time
}

type state struct {
	fingerprint   string
	sealingID     string
	signingID     string
	opener        *seal.Opener
	issuer        *token.Issuer
	publicKeyJSON []byte
	jwksJSON      []byte
}

// New seeds the store from files where needed and loads the keys.
func New(ctx context.Context, store Store, cfg Config, files Files) (*Ring, error) {
	if len(cfg.KEK) != KEKSize {
		return nil, errors.New("keyring: the key-encryption key must be 32 bytes")
	}
	if cfg.SealingOverlap <= 0 {
		cfg.SealingOverlap = DefaultSealingOverlap
	}
	if cfg.SigningActivation <= 0 {
		cfg.SigningActivation = DefaultSigningActivation
	}
	if cfg.Token.Now == nil {
		cfg.Token.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Ring{store: store, cfg: cfg, parsed: map[string]crypto.Signer{}}
	if err := r.seed(ctx, files); err != nil {
		return nil, err
	}
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Ring) now() time.Time { return r.cfg.Token.Now().UTC() }

// seed makes sure the store holds a current key of each kind.
func (r *Ring) seed(ctx context.Context, files Files) error {
	if err := r.seedKind(ctx, auth.KeySealing, keys.AlgRSAOAEP256, files.Sealing); err != nil {
		return fmt.Errorf("sealing key: %w", err)
	}
	if r.cfg.SigningAlg == "HS256" {
		return nil
	}
	if err := r.seedKind(ctx, auth.KeySigning, r.cfg.SigningAlg, files.Signing); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	return nil
}

func (r *Ring) seedKind(ctx context.Context, kind auth.KeyKind, alg, file string) error {
	recs, err := r.store.Keys(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	var current *auth.KeyRecord
	for i, k := range recs {
		known[k.ID] = true
		if k.Kind == kind && k.RetiredAt.IsZero() {
			current = &recs[i]
		}
	}
	fileKey, err := keys.ReadPrivateKeyFile(file)
	switch {
	case err == nil:
		id, err := keys.Thumbprint(fileKey.Public())
		if err != nil {
			return err
		}
		if !known[id] {
			if err := checkFits(kind, alg, fileKey); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			_, err := r.add(ctx, kind, alg, fileKey)
			if err == nil {
				r.cfg.Logger.Info("imported key into the store", "kind", string(kind), "kid", id, "file", file)
			}
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if current != nil && current.Alg == alg {
		return nil
	}
	key, err := generate(kind, alg)
	if err != nil {
		return err
	}
	if _, statErr := os.Stat(file); errors.Is(statErr, fs.ErrNotExist) { // #nosec G703 -- the operator's configured path
		if err := keys.WritePrivateKeyFile(file, key); err != nil {
			return err
		}
	}
	rec, err := r.add(ctx, kind, alg, key)
	if err == nil {
		r.cfg.Logger.Info("generated key", "kind", string(kind), "kid", rec.ID, "alg", alg)
	}
	return err
}

func checkFits(kind auth.KeyKind, alg string, key crypto.Signer) error {
	if kind == auth.KeySealing {
		if _, ok := key.(*rsa.PrivateKey); !ok {
			return errors.New("the sealing key must be an RSA key of 2048 bits or more")
		}
		return nil
	}
	_, err := keys.NewSigningKey(alg, key)
	return err
}

func generate(kind auth.KeyKind, alg string) (crypto.Signer, error) {
	if kind == auth.KeySealing {
		return keys.GenerateSealingKey()
	}
	k, err := keys.GenerateSigningKey(alg)
	return k.Key, err
}

// add encrypts and stores a key as the current one of its kind.
func (r *Ring) add(ctx context.Context, kind auth.KeyKind, alg string, key crypto.Signer) (auth.KeyRecord, error) {
	id, err := keys.Thumbprint(key.Public())
	if err != nil {
		return auth.KeyRecord{}, err
	}
	pemBytes, err := keys.MarshalPrivateKeyPEM(key)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	enc, err := encrypt(r.cfg.KEK, kind, id, pemBytes)
	clear(pemBytes)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	// The newest key of a kind is the current one, so a new key must be
	// newer than every stored one even if this machine's clock is behind
	// the one that stored them.
	recs, err := r.store.Keys(ctx)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	// Milliseconds: every store keeps at least that precision.
	created := r.now().Truncate(time.Millisecond)
	for _, k := range recs {
		if k.Kind == kind && !created.After(k.CreatedAt) {
			created = k.CreatedAt.Add(time.Millisecond)
		}
	}
	rec := auth.KeyRecord{ID: id, Kind: kind, Alg: alg, PrivateEnc: enc, CreatedAt: created}
	if err := r.store.AddKey(ctx, rec); err != nil {
		return auth.KeyRecord{}, err
	}
	return rec, nil
}

// window is how long a replaced key of kind stays in use after its successor
// appeared: for a signing key, the longest a token it signed can live (with
// leeway, and the delay before every instance has switched).
func (r *Ring) window(kind auth.KeyKind) time.Duration {
	if kind == auth.KeySealing {
		return r.cfg.SealingOverlap
	}
	return r.cfg.Token.TTL + token.Leeway + 2*ReloadInterval
}

// Status is a key's state at a moment.
type Status string

// The states of a key.
const (
	StatusNext     Status = "next"     // new: accepted already, used from Until on
	StatusCurrent  Status = "current"  // used to seal to and to sign with
	StatusPrevious Status = "previous" // replaced, still accepted until Until
	StatusExpired  Status = "expired"  // replaced, no longer accepted
	StatusRetired  Status = "retired"  // retired by an operator
)

// KeyInfo describes a stored key.
type KeyInfo struct {
	auth.KeyRecord
	Status Status
	Until  time.Time // for StatusNext: when it becomes current; for StatusPrevious: when it stops being accepted
}

// ActivationDelay is how long a new sealing key is only accepted before it is
// served as the public key: long enough for every instance to have loaded it,
// so that no instance meets a kid it does not know yet.
const ActivationDelay = 2*ReloadInterval + time.Second

// DefaultSigningActivation is how long a new signing key is published in the
// JWKS before tokens are signed with it. Verifiers outside the project cache
// the JWKS (we allow 30 s; jose's createRemoteJWKSet, say, refetches at most
// every 30 s), so a key must be visible longer than that before it is used.
const DefaultSigningActivation = 45 * time.Second

func (r *Ring) activation(kind auth.KeyKind) time.Duration {
	if kind == auth.KeySigning {
		return r.cfg.SigningActivation
	}
	return ActivationDelay
}

// describe gives every record its status at now, newest first.
func (r *Ring) describe(recs []auth.KeyRecord, now time.Time) []KeyInfo {
	out := make([]KeyInfo, len(recs))
	for _, kind := range []auth.KeyKind{auth.KeySealing, auth.KeySigning} {
		var next time.Time // when the next newer key of this kind became current
		current := -1
		for i := len(recs) - 1; i >= 0; i-- {
			k := recs[i]
			if k.Kind != kind {
				continue
			}
			info := KeyInfo{KeyRecord: k}
			active := k.CreatedAt.Add(r.activation(kind))
			switch {
			case !k.RetiredAt.IsZero():
				info.Status = StatusRetired
			case current < 0 && now.Before(active):
				info.Status, info.Until = StatusNext, active
			case current < 0:
				info.Status, current, next = StatusCurrent, i, active
			case now.Before(next.Add(r.window(kind))):
				info.Status, info.Until, next = StatusPrevious, next.Add(r.window(kind)), active
			default:
				info.Status, next = StatusExpired, active
			}
			out[len(recs)-1-i] = info
		}
		if current >= 0 {
			continue
		}
		// Nothing has been current yet: the oldest new key is (out is newest first).
		for i := len(out) - 1; i >= 0; i-- {
			if out[i].Kind == kind && out[i].Status == StatusNext {
				out[i].Status, out[i].Until = StatusCurrent, time.Time{}
				break
			}
		}
	}
	return out
}

// Reload re-reads the keys from the store and, if the set in use changed,
// switches to it.
func (r *Ring) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(ctx)
}

func (r *Ring) reloadLocked(ctx context.Context) error {
	recs, err := r.store.Keys(ctx)
	if err != nil {
		return err
	}
	r.lastReload = time.Now()
	var sealing, signing []KeyInfo
	var fp strings.Builder
	// Each list starts with the current key (used to sign, served as the
	// public key), then the others that are accepted: next and previous.
	for _, k := range r.describe(recs, r.now()) {
		if k.Status != StatusCurrent && k.Status != StatusNext && k.Status != StatusPrevious {
			continue
		}
		list := &sealing
		if k.Kind == auth.KeySigning {
			list = &signing
		}
		if k.Status == StatusCurrent {
			*list = append([]KeyInfo{k}, *list...)
		} else {
			*list = append(*list, k)
		}
		fp.WriteString(string(k.Status) + ":" + k.ID + ",")
	}
	if old := r.state.Load(); old != nil && old.fingerprint == fp.String() {
		return nil
	}
	if len(sealing) == 0 || sealing[0].Status != StatusCurrent {
		return errors.New("keyring: no current sealing key in the store")
	}
	st := &state{fingerprint: fp.String(), sealingID: sealing[0].ID}
	sealKeys := make([]seal.Key, 0, len(sealing))
	for _, k := range sealing {
		signer, err := r.private(k.KeyRecord)
		if err != nil {
			return err
		}
		rk, ok := signer.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("keyring: sealing key %s is not RSA", k.ID)
		}
		sealKeys = append(sealKeys, seal.Key{ID: k.ID, Private: rk})
	}
	st.opener = seal.NewOpener(sealKeys, r.cfg.LegacyPKCS1)

	var tokKeys []token.Key
	if r.cfg.SigningAlg == "HS256" {
		tokKeys = append(tokKeys, token.Key{ID: secretID(r.cfg.Secret), Alg: "HS256", Secret: r.cfg.Secret})
	}
	jwks := keys.JWKS{Keys: []keys.JWK{}}
	for _, k := range signing {
		signer, err := r.private(k.KeyRecord)
		if err != nil {
			return err
		}
		tokKeys = append(tokKeys, token.Key{ID: k.ID, Alg: k.Alg, Signer: signer})
		jwk, err := keys.PublicJWK(signer.Public(), k.ID, k.Alg, keys.UseSig)
		if err != nil {
			return err
		}
		jwks.Keys = append(jwks.Keys, jwk)
	}
	if len(tokKeys) == 0 || (r.cfg.SigningAlg != "HS256" && signing[0].Status != StatusCurrent) {
		return errors.New("keyring: no current signing key in the store")
	}
	st.signingID = tokKeys[0].ID
	if st.issuer, err = token.NewIssuer(r.cfg.Token, tokKeys...); err != nil {
		return err
	}
	if st.jwksJSON, err = json.Marshal(jwks); err != nil {
		return err
	}
	if st.publicKeyJSON, err = publicKeyDoc(sealKeys[0]); err != nil {
		return err
	}
	if old := r.state.Swap(st); old != nil {
		r.cfg.Logger.Info("keys changed", "sealing_kid", st.sealingID, "signing_kid", st.signingID, "sealing_keys", len(sealKeys), "signing_keys", len(tokKeys))
	}
	return nil
}

// private decrypts and parses a stored key, once.
func (r *Ring) private(k auth.KeyRecord) (crypto.Signer, error) {
	if s, ok := r.parsed[k.ID]; ok {
		return s, nil
	}
	pemBytes, err := decrypt(r.cfg.KEK, k.Kind, k.ID, k.PrivateEnc)
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: %w", k.ID, err)
	}
	s, err := keys.ParsePrivateKeyPEM(pemBytes)
	clear(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("keyring: key %s: %w", k.ID, err)
	}
	if id, err := keys.Thumbprint(s.Public()); err != nil || id != k.ID {
		return nil, fmt.Errorf("keyring: key %s does not match its id", k.ID)
	}
	r.parsed[k.ID] = s
	return s, nil
}

func publicKeyDoc(k seal.Key) ([]byte, error) {
	pub := &k.Private.PublicKey
	pemBytes, err := keys.PublicKeyPEM(pub)
	if err != nil {
		return nil, err
	}
	jwk, err := keys.PublicJWK(pub, k.ID, keys.AlgRSAOAEP256, keys.UseEnc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		KID       string   `json:"kid"`
		Alg       string   `json:"alg"`
		PublicKey string   `json:"public_key"`
		JWK       keys.JWK `json:"jwk"`
	}{k.ID, keys.AlgRSAOAEP256, string(pemBytes), jwk})
}

// Run reloads the keys every ReloadInterval until ctx ends, so that rotations
// made by another instance or the CLI take effect here within seconds.
func (r *Ring) Run(ctx context.Context) {
	tick := time.NewTicker(ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := r.Reload(ctx); err != nil {
				r.cfg.Logger.WarnContext(ctx, "key reload failed", "err", err)
			}
		}
	}
}

// reloadNow reloads at once, unless a reload happened within the last second,
// and reports whether the key set changed. It lets a request that names a key
// we do not know yet (just rotated elsewhere) succeed instead of failing.
func (r *Ring) reloadNow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastReload) < time.Second {
		return false
	}
	before := r.state.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.reloadLocked(ctx); err != nil {
		r.cfg.Logger.Warn("key reload failed", "err", err)
		return false
	}
	return r.state.Load() != before
}

// Open opens a sealed password with the live sealing keys.
func (r *Ring) Open(kid, sealed string) ([]byte, error) {
	b, err := r.state.Load().opener.Open(kid, sealed)
	if (errors.Is(err, seal.ErrUnknownKey) || errors.Is(err, seal.ErrDecryption)) && r.reloadNow() {
		b, err = r.state.Load().opener.Open(kid, sealed)
	}
	return b, err
}

// Issue signs an access token with the current signing key.
func (r *Ring) Issue(userID int64, email, sessionID string) (string, *token.Claims, error) {
	return r.state.Load().issuer.Issue(userID, email, sessionID)
}

// Verify checks an access token against the live signing keys.
func (r *Ring) Verify(raw string) (*token.Claims, error) {
	c, err := r.state.Load().issuer.Verify(raw)
	if errors.Is(err, token.ErrUnknownKey) && r.reloadNow() {
		c, err = r.state.Load().issuer.Verify(raw)
	}
	return c, err
}

// TTL is the lifetime of access tokens.
func (r *Ring) TTL() time.Duration { return r.cfg.Token.TTL }

// PublicKeyJSON is the body of GET /api/auth/public-key: the current sealing key.
func (r *Ring) PublicKeyJSON() []byte { return r.state.Load().publicKeyJSON }

// JWKSJSON is the body of GET /.well-known/jwks.json: the live signing keys.
func (r *Ring) JWKSJSON() []byte { return r.state.Load().jwksJSON }

// Current returns the ids of the current sealing and signing keys.
func (r *Ring) Current() (sealing, signing string) {
	st := r.state.Load()
	return st.sealingID, st.signingID
}

// List describes every stored key, newest first.
func (r *Ring) List(ctx context.Context) ([]KeyInfo, error) {
	recs, err := r.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return r.describe(recs, r.now()), nil
}

// Rotate makes a new current key of kind; the old one stays accepted for its
// window.
func (r *Ring) Rotate(ctx context.Context, kind auth.KeyKind) (auth.KeyRecord, error) {
	alg := keys.AlgRSAOAEP256
	if kind == auth.KeySigning {
		if r.cfg.SigningAlg == "HS256" {
			return auth.KeyRecord{}, errors.New("JWT_ALG is HS256: its key is JWT_SECRET, which is rotated by changing the setting")
		}
		alg = r.cfg.SigningAlg
	} else if kind != auth.KeySealing {
		return auth.KeyRecord{}, fmt.Errorf("unknown key kind %q; want sealing or signing", kind)
	}
	key, err := generate(kind, alg)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	rec, err := r.add(ctx, kind, alg, key)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	return rec, r.Reload(ctx)
}

// Import stores an existing private key (a PEM file's) as the current key of kind.
func (r *Ring) Import(ctx context.Context, kind auth.KeyKind, key crypto.Signer) (auth.KeyRecord, error) {
	alg := keys.AlgRSAOAEP256
	if kind == auth.KeySigning {
		alg = r.cfg.SigningAlg
	}
	if err := checkFits(kind, alg, key); err != nil {
		return auth.KeyRecord{}, err
	}
	rec, err := r.add(ctx, kind, alg, key)
	if err != nil {
		return auth.KeyRecord{}, err
	}
	return rec, r.Reload(ctx)
}

// Retire stops a key from being used at once. The last live key of a kind
// cannot be retired: rotate first.
func (r *Ring) Retire(ctx context.Context, id string) error {
	list, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, k := range list {
		if k.ID == id && k.Status == StatusCurrent {
			return fmt.Errorf("key %s is the current %s key; rotate first, then retire it", id, k.Kind)
		}
	}
	if err := r.store.RetireKey(ctx, id, r.now()); err != nil {
		return err
	}
	return r.Reload(ctx)
}
