// Package httpapi is sealauth's HTTP interface: routes, handlers, the JSON and
// problem+json encoding, and the middleware every request passes through.
package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/sealauth/sealauth/internal/clientip"
	"github.com/sealauth/sealauth/internal/config"

	"github.com/sealauth/sealauth/internal/auth"
)

// Keys publishes the public halves of the server's keys, already encoded, so
// the handlers serve bytes and the set can change at run time (key rotation).
type Keys interface {
	PublicKeyJSON() []byte // the body of GET /api/auth/public-key
	JWKSJSON() []byte      // the body of GET /.well-known/jwks.json
}

// Options are the HTTP layer's settings; the zero value is a plain API.
type Options struct {
	// CORSOrigins are the exact origins (scheme://host[:port]) whose pages may
	// call the API from a browser; none by default.
	CORSOrigins []string
	// ClientIP resolves client addresses (behind trusted proxies); nil means
	// the socket peer.
	ClientIP *clientip.Resolver
	// Limiter enforces RateLimits; nil: no rate limits.
	Limiter    Limiter
	RateLimits config.RateLimits
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
}

// NewServer returns the handler for the whole API.
func NewServer(logger *slog.Logger, svc *auth.Service, keys Keys, opt Options) http.Handler {
	mux := http.NewServeMux()
	var lm *limits
	if opt.Limiter != nil {
		lm = &limits{logger: logger, ip: opt.ClientIP, limiter: opt.Limiter, cfg: opt.RateLimits}
	} else if opt.ClientIP != nil {
		lm = &limits{logger: logger, ip: opt.ClientIP}
	}
	addRoutes(mux, logger, svc, keys, lm, opt.Metrics)
	var h http.Handler = mux
	if len(opt.CORSOrigins) > 0 {
		h = withCORS(h, opt.CORSOrigins)
	}
	return withMiddleware(h, logger)
}

// route registers h for "METHOD /path" and makes every other method on that path
// a 405 problem listing the allowed ones (ServeMux would answer in plain text).
type router struct {
	mux     *http.ServeMux
	logger  *slog.Logger
	allowed map[string][]string
}

func (rt *router) handle(method, path string, h http.Handler) {
	if _, seen := rt.allowed[path]; !seen {
		rt.mux.Handle(path, rt.methodNotAllowed(path))
	}
	rt.mux.Handle(method+" "+path, h) // a GET pattern serves HEAD too
	rt.allowed[path] = append(rt.allowed[path], method)
	if method == http.MethodGet {
		rt.allowed[path] = append(rt.allowed[path], http.MethodHead)
	}
}

func (rt *router) methodNotAllowed(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allow := strings.Join(append([]string{http.MethodOptions}, rt.allowed[path]...), ", ")
		w.Header().Set("Allow", allow)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeError(w, r, rt.logger, &auth.Error{Code: auth.CodeMethodNotAllowed, Detail: "Allowed methods: " + allow + "."})
	})
}
