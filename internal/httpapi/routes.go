package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/web"
)

// addRoutes lists the whole API surface.
func addRoutes(mux *http.ServeMux, logger *slog.Logger, svc *auth.Service, keys Keys, lm *limits, metrics http.Handler) {
	rt := &router{mux: mux, logger: logger, allowed: map[string][]string{}}
	var rl config.RateLimits
	if lm != nil {
		rl = lm.cfg
	}
	rt.handle("GET", "/healthz", handleHealth())
	rt.handle("GET", "/readyz", handleReady(logger, svc))
	rt.handle("GET", "/.well-known/jwks.json", handleStatic(keys.JWKSJSON, "public, max-age=30"))
	rt.handle("GET", "/api/auth/public-key", lm.perIP("public-key", rl.PublicKeyPerIP, handleStatic(keys.PublicKeyJSON, "public, max-age=60")))
	rt.handle("POST", "/api/auth/register", lm.perIP("register", rl.RegisterPerIP, handleRegister(logger, svc)))
	rt.handle("POST", "/api/auth/login", lm.perIP("login", rl.LoginPerIP, handleLogin(logger, svc, lm)))
	rt.handle("GET", "/api/auth/profile", requireToken(logger, svc, handleProfile(logger, svc)))
	rt.handle("POST", "/api/auth/refresh", lm.perIP("refresh", rl.RefreshPerIP, handleRefresh(logger, svc)))
	rt.handle("POST", "/api/auth/logout", requireToken(logger, svc, handleLogout(logger, svc)))
	rt.handle("GET", "/api/auth/sessions", requireToken(logger, svc, handleSessions(logger, svc)))
	rt.handle("DELETE", "/api/auth/sessions/{id}", requireToken(logger, svc, handleEndSession(logger, svc)))
	rt.handle("PUT", "/api/auth/password", requireToken(logger, svc, handlePassword(logger, svc)))
	// The demo page of the browser module (web/), same-origin with the API.
	rt.handle("GET", "/demo/", http.StripPrefix("/demo", web.Handler()))
	if metrics != nil {
		rt.handle("GET", "/metrics", metrics)
	}
	mux.Handle("/", handleNotFound(logger))
}
