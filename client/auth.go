package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// The scopes of [Client.Logout].
const (
	ScopeLocal  = "local"  // the session of the access token (the default)
	ScopeOthers = "others" // every session of the user but this one
	ScopeGlobal = "global" // every session of the user
)

// User is an account as the server shows it.
type User struct {
	ID    int64
	Name  string
	Email string // trimmed and lower-cased by the server
	// CreatedAt is when the account was made; zero in the user of a login or
	// refresh, whose answer does not carry it.
	CreatedAt time.Time
}

// Tokens is the answer of a login or refresh: a new access token and a new
// refresh token of one session.
type Tokens struct {
	// AccessToken is the JWT to send as "Authorization: Bearer" (the methods
	// taking accessToken do that).
	AccessToken string
	// RefreshToken is the opaque token for [Client.Refresh]; it works once.
	RefreshToken string
	// TokenType is "Bearer".
	TokenType string
	// ExpiresIn is the lifetime of the access token.
	ExpiresIn time.Duration
	// Expiry is when the access token expires by the client's clock: the
	// time of the answer plus ExpiresIn.
	Expiry time.Time
	// User is the logged-in user (without CreatedAt).
	User User
}

// Profile is the answer of [Client.Profile]: the user of an access token.
type Profile struct {
	User
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
}

// Session is one login of a user, as [Client.Sessions] lists it.
type Session struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	UserAgent  string
	IP         string
	// Current is true for the session of the access token that asked.
	Current bool
}

// userJSON is the user on the wire.
type userJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func (u userJSON) user() User {
	return User(u)
}

// Register creates an account (POST /api/auth/register) and returns it. The
// password is sealed before it is sent. Errors to expect: validation_failed
// (see Error.Fields: "name", "email", "password"), email_taken, rate_limited.
func (c *Client) Register(ctx context.Context, name, email, password string) (User, error) {
	var out struct {
		User userJSON `json:"user"`
	}
	err := c.doSealed(ctx, call{op: "register", method: "POST", path: "/api/auth/register"}, []string{password},
		func(kid string, sealed []string) any {
			return withKID(map[string]string{"name": name, "email": email, "password": sealed[0]}, kid)
		}, &out)
	if err != nil {
		return User{}, err
	}
	if out.User.ID == 0 {
		return User{}, errors.New("sealauth: register: the answer has no user")
	}
	return out.User.user(), nil
}

// Login starts a session (POST /api/auth/login) and returns its tokens. The
// password is sealed before it is sent. A wrong email and a wrong password
// both give invalid_credentials; a throttled account or address gives
// rate_limited with Error.RetryAfter.
func (c *Client) Login(ctx context.Context, email, password string) (*Tokens, error) {
	var out tokensJSON
	err := c.doSealed(ctx, call{op: "login", method: "POST", path: "/api/auth/login"}, []string{password},
		func(kid string, sealed []string) any {
			return withKID(map[string]string{"email": email, "password": sealed[0]}, kid)
		}, &out)
	if err != nil {
		return nil, err
	}
	return out.tokens("login")
}

// Refresh spends refreshToken (POST /api/auth/refresh) and returns a new pair
// of the same session. A refresh token works once: presenting a spent one
// again gives invalid_token and, outside a short grace period, ends the
// session.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	var out tokensJSON
	cl := call{op: "refresh", method: "POST", path: "/api/auth/refresh",
		body: map[string]string{"refresh_token": refreshToken}, secrets: []string{refreshToken}}
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return out.tokens("refresh")
}

// tokensJSON is the answer of login and refresh on the wire.
type tokensJSON struct {
	User         userJSON `json:"user"`
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int64    `json:"expires_in"`
	RefreshToken string   `json:"refresh_token"`
}

func (t tokensJSON) tokens(op string) (*Tokens, error) {
	if t.AccessToken == "" || t.RefreshToken == "" {
		return nil, fmt.Errorf("sealauth: %s: the answer has no tokens", op)
	}
	in := time.Duration(max(t.ExpiresIn, 0)) * time.Second
	return &Tokens{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    t.TokenType,
		ExpiresIn:    in,
		Expiry:       time.Now().Add(in),
		User:         t.User.user(),
	}, nil
}

// Profile returns the user of accessToken (GET /api/auth/profile). An
// expired, revoked or malformed token gives invalid_token.
func (c *Client) Profile(ctx context.Context, accessToken string) (Profile, error) {
	var out struct {
		userJSON
		Exp int64 `json:"exp"`
	}
	cl := call{op: "profile", method: "GET", path: "/api/auth/profile", bearer: accessToken, secrets: []string{accessToken}}
	if err := c.do(ctx, cl, &out); err != nil {
		return Profile{}, err
	}
	return Profile{User: out.user(), ExpiresAt: time.Unix(out.Exp, 0)}, nil
}

// Logout ends sessions (POST /api/auth/logout): with scope "" or
// [ScopeLocal] the session of accessToken, with [ScopeOthers] every other
// session of the user, with [ScopeGlobal] all of them. The tokens of an ended
// session are refused from then on.
func (c *Client) Logout(ctx context.Context, accessToken, scope string) error {
	cl := call{op: "logout", method: "POST", path: "/api/auth/logout", bearer: accessToken, secrets: []string{accessToken}}
	if scope != "" {
		cl.body = map[string]string{"scope": scope}
	}
	return c.do(ctx, cl, nil)
}

// Sessions lists the live sessions of the user of accessToken
// (GET /api/auth/sessions); the one of accessToken has Current set.
func (c *Client) Sessions(ctx context.Context, accessToken string) ([]Session, error) {
	var out struct {
		Sessions []struct {
			ID         string    `json:"id"`
			CreatedAt  time.Time `json:"created_at"`
			LastUsedAt time.Time `json:"last_used_at"`
			UserAgent  string    `json:"user_agent"`
			IP         string    `json:"ip"`
			Current    bool      `json:"current"`
		} `json:"sessions"`
	}
	cl := call{op: "sessions", method: "GET", path: "/api/auth/sessions", bearer: accessToken, secrets: []string{accessToken}}
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	list := make([]Session, 0, len(out.Sessions))
	for _, s := range out.Sessions {
		list = append(list, Session(s))
	}
	return list, nil
}

// EndSession ends the session id of the user of accessToken
// (DELETE /api/auth/sessions/{id}); its tokens are refused from then on.
func (c *Client) EndSession(ctx context.Context, accessToken, id string) error {
	if id == "" {
		return errors.New("sealauth: end session: empty session id")
	}
	cl := call{op: "end session", method: "DELETE", path: "/api/auth/sessions/" + url.PathEscape(id),
		bearer: accessToken, secrets: []string{accessToken}}
	return c.do(ctx, cl, nil)
}

// ChangePassword replaces the password of the user of accessToken
// (PUT /api/auth/password); both passwords are sealed before they are sent.
// A wrong current password gives invalid_credentials, a weak new one
// validation_failed (field "new_password"). Every other session of the user
// ends; the one of accessToken goes on.
func (c *Client) ChangePassword(ctx context.Context, accessToken, current, newPassword string) error {
	cl := call{op: "change password", method: "PUT", path: "/api/auth/password", bearer: accessToken, secrets: []string{accessToken}}
	return c.doSealed(ctx, cl, []string{current, newPassword}, func(kid string, sealed []string) any {
		return withKID(map[string]string{"current_password": sealed[0], "new_password": sealed[1]}, kid)
	}, nil)
}

// doSealed seals passwords under the current public key, builds the body with
// body and sends the call. If the server no longer knows the key
// (400 unknown_key), it fetches the key again and repeats the call once; a
// key refused again is dropped from the cache too.
func (c *Client) doSealed(ctx context.Context, cl call, passwords []string, body func(kid string, sealed []string) any, out any) error {
	base := cl.secrets
	for attempt := 0; ; attempt++ {
		k, err := c.PublicKey(ctx)
		if err != nil {
			return err // "sealauth: public key: …"
		}
		sealed := make([]string, len(passwords))
		for i, pw := range passwords {
			if sealed[i], err = sealWith(k, pw); err != nil {
				return fmt.Errorf("sealauth: %s: %w", cl.op, err)
			}
		}
		cl.body = body(k.KID, sealed)
		cl.secrets = append(append(append([]string(nil), base...), passwords...), sealed...)
		err = c.do(ctx, cl, out)
		if IsCode(err, CodeUnknownKey) {
			c.forgetKey(k) // stale either way: the next call fetches anew
			if attempt == 0 {
				continue
			}
		}
		return err
	}
}

// withKID adds the key id to a body, unless the server named none.
func withKID(body map[string]string, kid string) map[string]string {
	if kid != "" {
		body["kid"] = kid
	}
	return body
}
