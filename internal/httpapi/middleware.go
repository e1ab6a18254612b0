package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/token"
)

// requestInfo is what the handlers learn about a request as it passes
// through: the access log's fields and the verified token. One context value
// holds it all, so that no layer copies the request to add its own.
type requestInfo struct {
	id     string
	userID int64
	claims *token.Claims
}

func infoOf(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	return ri
}

type requestInfoKey struct{}

func setUserID(r *http.Request, id int64) {
	if ri := infoOf(r); ri != nil {
		ri.userID = id
	}
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// securityHeaders go on every response. The slices are shared between
// responses, which is safe because each has length = capacity: an Add on one
// of these headers copies instead of writing into the shared array.
var securityHeaders = map[string][]string{
	"X-Content-Type-Options":  {"nosniff"},
	"Referrer-Policy":         {"no-referrer"},
	"Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"},
}

// withMiddleware wraps every request: a request id, security headers, a bounded
// body, recovery from panics as a 500 problem, and one access-log line. The log
// line names the method, path, status, duration, request id and user id; never
// a header, query or body, where secrets travel.
func withMiddleware(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: requestID()}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
		h := w.Header()
		h["X-Request-Id"] = []string{ri.id}
		for k, v := range securityHeaders {
			h[k] = v
		}
		if len(r.TransferEncoding) > 0 {
			// No client of ours needs a chunked body; ending the connection
			// afterwards leaves no room for a request smuggled behind one.
			h["Connection"] = []string{"close"}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic", "request_id", ri.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, logger, &auth.Error{Code: auth.CodeInternal, Detail: "Internal server error"})
				}
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", ri.id),
			}
			if ri.userID != 0 {
				attrs = append(attrs, slog.Int64("user_id", ri.userID))
			}
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestID is 64 random bits, enough to find one request in the logs.
func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// corsExposed are the response headers a browser page may read besides the
// CORS-safelisted ones.
const corsExposed = "Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate, X-Request-Id"

// withCORS lets pages from the listed origins call the API (Fetch standard,
// CORS protocol). Only exact origins match, and no credentials mode is
// offered: the API uses bearer tokens, not cookies, so a page never needs the
// browser to attach credentials itself. A preflight from another origin gets
// no CORS headers and the browser blocks the call.
func withCORS(next http.Handler, origins []string) http.Handler {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin == "" || !allowed[origin] {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}
