package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/clientip"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/ratelimit"
)

// Limiter is what the handlers need of the rate limiter; the ratelimit
// package's memory, Redis and fallback implementations provide it.
type Limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error)
}

// limits applies the rate limits; a nil limits limits nothing.
type limits struct {
	logger  *slog.Logger
	ip      *clientip.Resolver
	limiter Limiter
	cfg     config.RateLimits
}

// perIP refuses the request with 429 when its client address is over l. The
// address is counted by subnet (IPv6 /64), so one client cannot escape the
// limit by using more of its addresses.
func (lm *limits) perIP(name string, l ratelimit.Limit, next http.Handler) http.Handler {
	if lm == nil || l.IsZero() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := name + ":ip:unknown"
		if p := clientip.Subnet(lm.ip.ClientIP(r)); p.IsValid() {
			key = name + ":ip:" + p.String()
		}
		res, err := lm.limiter.Allow(r.Context(), key, l)
		if err != nil {
			// Only an invalid limit errs, and config refuses those at start;
			// failing open keeps a bug here from locking everyone out.
			next.ServeHTTP(w, r)
			return
		}
		ratelimit.SetHeaders(w.Header(), name, res)
		if !res.Allowed {
			writeError(w, r, lm.logger, auth.RateLimited(res.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddr is the client's address as the session list shows it.
func (lm *limits) clientAddr(r *http.Request) string {
	var res *clientip.Resolver
	if lm != nil {
		res = lm.ip
	}
	if a := res.ClientIP(r); a.IsValid() {
		return a.String()
	}
	return ""
}
