package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/token"
)

// userJSON is the user as the API shows it. CreatedAt is omitted where the
// tutorial's response had no such field (login).
type userJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Email     string     `json:"email"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

func toJSON(u auth.User, withCreated bool) userJSON {
	j := userJSON{ID: u.ID, Name: u.Name, Email: u.Email}
	if withCreated {
		t := u.CreatedAt.UTC()
		j.CreatedAt = &t
	}
	return j
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReady(logger *slog.Logger, svc *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Ready(r.Context()); err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// handleStatic serves a JSON document that the key set prepared.
func handleStatic(body func() []byte, cacheControl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", cacheControl)
		_, _ = w.Write(body())
	})
}

func handleNotFound(logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, logger, &auth.Error{Code: auth.CodeNotFound, Detail: "No such endpoint."})
	})
}

func handleRegister(logger *slog.Logger, svc *auth.Service) http.Handler {
	type response struct {
		Message string   `json:"message"`
		User    userJSON `json:"user"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Busy(); err != nil {
			writeError(w, r, logger, err)
			return
		}
		var in auth.RegisterInput
		if err := decode(r, &in); err != nil {
			writeError(w, r, logger, err)
			return
		}
		u, err := svc.Register(r.Context(), in)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.Header().Set("Location", "/api/auth/profile")
		encode(w, http.StatusCreated, response{Message: "User registered successfully", User: toJSON(u, true)})
	})
}

// tokenResponse is the body of a successful login or refresh.
type tokenResponse struct {
	User         userJSON `json:"user"`
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int64    `json:"expires_in"`
	RefreshToken string   `json:"refresh_token"`
}

func writeTokens(w http.ResponseWriter, r *http.Request, l auth.Login) {
	setUserID(r, l.User.ID)
	noStore(w)
	encode(w, http.StatusOK, tokenResponse{
		User:         toJSON(l.User, false),
		AccessToken:  l.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(l.Claims.ExpiresAt.Sub(l.Claims.IssuedAt.Time).Seconds()),
		RefreshToken: l.RefreshToken,
	})
}

func handleLogin(logger *slog.Logger, svc *auth.Service, lm *limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Saturated: refuse before reading the body, so a flood costs little.
		if err := svc.Busy(); err != nil {
			writeError(w, r, logger, err)
			return
		}
		var in auth.LoginInput
		if err := decode(r, &in); err != nil {
			writeError(w, r, logger, err)
			return
		}
		l, err := svc.Login(r.Context(), in, auth.Client{UserAgent: r.UserAgent(), IP: lm.clientAddr(r)})
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeTokens(w, r, l)
	})
}

func handleRefresh(logger *slog.Logger, svc *auth.Service) http.Handler {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in request
		if err := decode(r, &in); err != nil {
			writeError(w, r, logger, err)
			return
		}
		l, err := svc.Refresh(r.Context(), in.RefreshToken)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		writeTokens(w, r, l)
	})
}

func handleSessions(logger *slog.Logger, svc *auth.Service) http.Handler {
	type sessionJSON struct {
		ID         string    `json:"id"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at"`
		UserAgent  string    `json:"user_agent"`
		IP         string    `json:"ip"`
		Current    bool      `json:"current"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		list, err := svc.Sessions(r.Context(), c)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		out := make([]sessionJSON, 0, len(list))
		for _, s := range list {
			out = append(out, sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
				UserAgent: s.UserAgent, IP: s.IP, Current: s.ID == c.SessionID})
		}
		noStore(w)
		encode(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

func handleEndSession(logger *slog.Logger, svc *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := svc.EndSession(r.Context(), claimsFrom(r), r.PathValue("id")); err != nil {
			writeError(w, r, logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handlePassword(logger *slog.Logger, svc *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in auth.PasswordInput
		if err := decode(r, &in); err != nil {
			writeError(w, r, logger, err)
			return
		}
		if err := svc.ChangePassword(r.Context(), claimsFrom(r), in); err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"message": "Password changed"})
	})
}

func handleProfile(logger *slog.Logger, svc *auth.Service) http.Handler {
	type response struct {
		userJSON
		Exp int64 `json:"exp"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		u, err := svc.Profile(r.Context(), c)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		noStore(w)
		encode(w, http.StatusOK, response{userJSON: toJSON(u, true), Exp: c.ExpiresAt.Unix()})
	})
}

func handleLogout(logger *slog.Logger, svc *auth.Service) http.Handler {
	type request struct {
		Scope auth.LogoutScope `json:"scope"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in request
		// The tutorial's clients send no body; a body, if any, may name a scope.
		if r.ContentLength != 0 {
			if err := decode(r, &in); err != nil {
				writeError(w, r, logger, err)
				return
			}
		}
		if err := svc.Logout(r.Context(), claimsFrom(r), in.Scope); err != nil {
			writeError(w, r, logger, err)
			return
		}
		noStore(w)
		encode(w, http.StatusOK, map[string]string{"message": "Logged out"})
	})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// maxAuthorization bounds the Authorization header: our tokens are well under
// 1 KiB, so anything near this is an attack and is refused before parsing.
const maxAuthorization = 8 << 10

// bearer extracts the token of an "Authorization: Bearer …" header (RFC 6750 §2.1;
// the scheme is case-insensitive).
func bearer(h string) (string, bool) {
	if len(h) > maxAuthorization {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// requireToken lets a request through only with a valid, unrevoked access token.
func requireToken(logger *slog.Logger, svc *auth.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			writeError(w, r, logger, &auth.Error{Code: auth.CodeInvalidToken, Detail: "Send the access token as Authorization: Bearer <token>."})
			return
		}
		c, err := svc.Authenticate(r.Context(), raw)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		ri := infoOf(r)
		if ri == nil { // outside withMiddleware, as in unit tests
			ri = &requestInfo{}
			r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
		}
		ri.userID, ri.claims = c.UserID, c
		next.ServeHTTP(w, r)
	})
}

// claimsFrom returns the token requireToken verified.
func claimsFrom(r *http.Request) *token.Claims { return infoOf(r).claims }
