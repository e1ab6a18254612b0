package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/token"
)

// Session defaults: a refresh token unused for IdleTimeout, or a session older
// than MaxLifetime, no longer refreshes (the user logs in again).
const (
	DefaultIdleTimeout = 7 * 24 * time.Hour
	DefaultMaxLifetime = 30 * 24 * time.Hour
	// DefaultReuseGrace is how long after a refresh token was spent that seeing
	// it again counts as a benign race (two tabs refreshing at once) rather than
	// theft: the late caller gets 401 but the session lives on.
	DefaultReuseGrace = 10 * time.Second
)

// Client describes where a request came from, for the session list.
type Client struct {
	UserAgent string
	IP        string
}

// sessionPrefix marks a revocation of a whole session rather than one token.
const sessionPrefix = "sid:"

// sessionRevocation names all access tokens of a session in the revocation set.
func sessionRevocation(sid string) string { return sessionPrefix + sid }

// newRefreshToken returns an opaque refresh token (256 random bits) and the hash
// under which it is stored. The token has full entropy, so a fast hash is as
// good as a slow one here.
func newRefreshToken() (tok, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	tok = base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashRefreshToken(tok)
}

func hashRefreshToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// startSession creates a session for u and issues its first token pair.
func (s *Service) startSession(ctx context.Context, u User, c Client) (Login, error) {
	now := s.Now().UTC()
	sess := Session{
		ID:         rand.Text(),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.maxLifetime()),
		UserAgent:  truncate(strings.ToValidUTF8(c.UserAgent, "\uFFFD"), 256),
		IP:         c.IP,
	}
	refresh, hash := newRefreshToken()
	if err := s.Store.CreateSession(ctx, sess, hash); err != nil {
		return Login{}, storeError(err)
	}
	return s.issue(u, sess.ID, refresh)
}

func (s *Service) issue(u User, sid, refresh string) (Login, error) {
	tok, claims, err := s.Tokens.Issue(u.ID, u.Email, sid)
	if err != nil {
		return Login{}, wrapError(CodeInternal, "Internal server error", err)
	}
	return Login{User: u, AccessToken: tok, Claims: claims, RefreshToken: refresh}, nil
}

// Refresh spends a refresh token and issues a new pair (rotation, RFC 9700
// §4.14). A token spent before, outside the grace window, is taken as stolen:
// the whole session ends, with every token it issued.
func (s *Service) Refresh(ctx context.Context, refresh string) (Login, error) {
	if refresh == "" {
		return Login{}, invalid("refresh_token", "is required")
	}
	if len(refresh) != 43 {
		return Login{}, errInvalidToken
	}
	now := s.Now().UTC()
	next, nextHash := newRefreshToken()
	sess, spentAt, err := s.Store.RotateRefreshToken(ctx, hashRefreshToken(refresh), nextHash, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return Login{}, errInvalidToken
	case errors.Is(err, ErrTokenSpent):
		if sess.RevokedAt.IsZero() && now.Sub(spentAt) > s.reuseGrace() {
			s.Logger.WarnContext(ctx, "refresh token reused; ending the session", "user_id", sess.UserID, "session_id", sess.ID)
			if err := s.endSessions(ctx, sess.UserID, []string{sess.ID}); err != nil {
				return Login{}, err
			}
		}
		return Login{}, errInvalidToken
	case err != nil:
		return Login{}, storeError(err)
	}
	if !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastUsedAt) > s.idleTimeout() {
		return Login{}, errInvalidToken
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return Login{}, errInvalidToken
	}
	if err != nil {
		return Login{}, storeError(err)
	}
	return s.issue(u, sess.ID, next)
}

// endSessions makes the access tokens of the sessions invalid everywhere. The
// sessions themselves must be revoked in the store by the caller or here.
func (s *Service) endSessions(ctx context.Context, userID int64, ids []string) error {
	now := s.Now().UTC()
	// An access token of the session lives at most its TTL (plus leeway) from now.
	exp := now.Add(s.Tokens.TTL() + token.Leeway)
	for _, id := range ids {
		// The session first: should the second write fail, what survives is
		// an access token for the rest of its short life, never a refresh
		// token that could renew the session; a retried logout finishes it.
		if err := s.Store.RevokeSession(ctx, userID, id, now); err != nil && !errors.Is(err, ErrNotFound) {
			return storeError(err)
		}
		r := Revocation{JTI: sessionRevocation(id), ExpiresAt: exp, RevokedAt: now}
		if err := s.Store.RevokeToken(ctx, r); err != nil {
			return storeError(err)
		}
		s.revoked.add(r.JTI, r.ExpiresAt)
	}
	return nil
}

// LogoutScope says which sessions a logout ends.
type LogoutScope string

// The logout scopes: this session (the default), all of the user's, or all but this one.
const (
	ScopeLocal  LogoutScope = "local"
	ScopeGlobal LogoutScope = "global"
	ScopeOthers LogoutScope = "others"
)

// Logout ends the caller's session (its refresh tokens and access tokens), or
// with ScopeGlobal every session of the user, or with ScopeOthers all others.
// A token issued without a session (none are, today) is revoked by itself.
func (s *Service) Logout(ctx context.Context, c *token.Claims, scope LogoutScope) error {
	switch scope {
	case "", ScopeLocal:
		if c.SessionID == "" {
			return s.revokeToken(ctx, c)
		}
		if err := s.endSessions(ctx, c.UserID, []string{c.SessionID}); err != nil {
			return err
		}
	case ScopeGlobal, ScopeOthers:
		except := c.SessionID
		if scope == ScopeGlobal {
			except = ""
		}
		if err := s.endOtherSessions(ctx, c.UserID, except); err != nil {
			return err
		}
		if scope == ScopeGlobal {
			if err := s.revokeToken(ctx, c); err != nil {
				return err
			}
		}
	default:
		return invalid("scope", `must be "local", "global" or "others"`)
	}
	s.Logger.InfoContext(ctx, "logged out", "user_id", c.UserID, "scope", string(scope))
	return nil
}

// endOtherSessions ends every session of the user but except.
func (s *Service) endOtherSessions(ctx context.Context, userID int64, except string) error {
	ids, err := s.Store.RevokeUserSessions(ctx, userID, except, s.Now().UTC())
	if err != nil {
		return storeError(err)
	}
	return s.endSessions(ctx, userID, ids)
}

func (s *Service) revokeToken(ctx context.Context, c *token.Claims) error {
	r := Revocation{JTI: c.ID, ExpiresAt: c.ExpiresAt.UTC(), RevokedAt: s.Now().UTC()}
	if err := s.Store.RevokeToken(ctx, r); err != nil {
		return storeError(err)
	}
	s.revoked.add(r.JTI, r.ExpiresAt)
	return nil
}

// Sessions lists the caller's live sessions.
func (s *Service) Sessions(ctx context.Context, c *token.Claims) ([]Session, error) {
	now := s.Now().UTC()
	list, err := s.Store.Sessions(ctx, c.UserID, now)
	if err != nil {
		return nil, storeError(err)
	}
	live := list[:0]
	for _, sess := range list {
		if now.Sub(sess.LastUsedAt) <= s.idleTimeout() {
			live = append(live, sess)
		}
	}
	return live, nil
}

// EndSession ends one of the caller's sessions; another user's is not found.
func (s *Service) EndSession(ctx context.Context, c *token.Claims, id string) error {
	if _, err := s.Store.SessionByID(ctx, id); errors.Is(err, ErrNotFound) {
		return errSessionNotFound
	} else if err != nil {
		return storeError(err)
	}
	err := s.Store.RevokeSession(ctx, c.UserID, id, s.Now().UTC())
	if errors.Is(err, ErrNotFound) {
		return errSessionNotFound
	}
	if err != nil {
		return storeError(err)
	}
	return s.endSessions(ctx, c.UserID, []string{id})
}

var errSessionNotFound = newError(CodeNotFound, "No such session.")

func (s *Service) idleTimeout() time.Duration { return cmp(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Service) maxLifetime() time.Duration { return cmp(s.MaxLifetime, DefaultMaxLifetime) }
func (s *Service) reuseGrace() time.Duration  { return cmp(s.ReuseGrace, DefaultReuseGrace) }

func cmp(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the stored text stays valid UTF-8.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// PasswordInput is the body of PUT /password.
type PasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	KID             string `json:"kid,omitempty"`
}

// ChangePassword replaces the caller's password after checking the current
// one, and ends every other session of the user; the caller's goes on.
func (s *Service) ChangePassword(ctx context.Context, c *token.Claims, in PasswordInput) error {
	release, err := s.work.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	current, perr := s.open(in.KID, in.CurrentPassword)
	if perr != nil {
		return fieldRenamed(perr, "password", "current_password")
	}
	next, perr := s.open(in.KID, in.NewPassword)
	if perr != nil {
		return fieldRenamed(perr, "password", "new_password")
	}
	if err := password.Validate(next); err != nil {
		return invalid("new_password", err.Error())
	}
	u, err := s.Store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return errInvalidToken
	}
	if err != nil {
		return storeError(err)
	}
	if err := s.Hasher.Compare(u.PasswordHash, current); err != nil {
		return errInvalidCredentials
	}
	hash, err := s.Hasher.Hash(next)
	if err != nil {
		return wrapError(CodeInternal, "Internal server error", err)
	}
	if err := s.Store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return storeError(err)
	}
	if err := s.endOtherSessions(ctx, u.ID, c.SessionID); err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "password changed", "user_id", u.ID)
	return nil
}

// fieldRenamed points a validation error about "password" at the field the
// request really used.
func fieldRenamed(e *Error, from, to string) *Error {
	if e.Code != CodeValidation {
		return e
	}
	out := *e
	out.Fields = make([]FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == from {
			f.Field = to
		}
		out.Fields[i] = f
	}
	return &out
}
