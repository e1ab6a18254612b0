package httpapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/sealauth/sealauth/internal/auth"
)

// statusOf is the one place where error codes become HTTP statuses.
var statusOf = map[auth.Code]int{
	auth.CodeInvalidJSON:           http.StatusBadRequest,
	auth.CodeInvalidSealed:         http.StatusBadRequest,
	auth.CodeUnknownKey:            http.StatusBadRequest,
	auth.CodeValidation:            http.StatusUnprocessableEntity,
	auth.CodeEmailTaken:            http.StatusConflict,
	auth.CodeInvalidCredentials:    http.StatusUnauthorized,
	auth.CodeInvalidToken:          http.StatusUnauthorized,
	auth.CodeUnsupportedMediaType:  http.StatusUnsupportedMediaType,
	auth.CodePayloadTooLarge:       http.StatusRequestEntityTooLarge,
	auth.CodeNotFound:              http.StatusNotFound,
	auth.CodeMethodNotAllowed:      http.StatusMethodNotAllowed,
	auth.CodeRateLimited:           http.StatusTooManyRequests,
	auth.CodeServiceUnavailable:    http.StatusServiceUnavailable,
	auth.CodeRequestHeaderTooLarge: http.StatusRequestHeaderFieldsTooLarge,
	auth.CodeInternal:              http.StatusInternalServerError,
}

// problem is an RFC 9457 problem document. Detail keeps the tutorial's clients,
// which read FastAPI's "detail", working.
type problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   auth.Code         `json:"code"`
	Errors []auth.FieldError `json:"errors,omitempty"`
}

// writeError answers with the problem document for err. Causes are logged, never
// sent: a 5xx is logged with the request id at error level, the rest at debug.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var e *auth.Error
	if !errors.As(err, &e) {
		e = &auth.Error{Code: auth.CodeInternal, Detail: "Internal server error", Err: err}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch {
	case e.Code == auth.CodeInternal:
		logger.ErrorContext(r.Context(), "request failed", "code", e.Code, "err", e.Err)
	case e.Code == auth.CodeServiceUnavailable && e.Err != nil:
		// The store did not answer: worth a warning. Load shedding (no cause)
		// is the server working as designed; the access log has the 503.
		logger.WarnContext(r.Context(), "request failed", "code", e.Code, "err", e.Err)
	case e.Err != nil:
		logger.DebugContext(r.Context(), "request refused", "code", e.Code, "err", e.Err)
	}
	h := w.Header()
	switch e.Code {
	case auth.CodeInvalidToken:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case auth.CodeInvalidCredentials:
		h.Set("WWW-Authenticate", `Bearer`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	detail := e.Detail
	if detail == "" {
		detail = http.StatusText(status)
	}
	p := problem{
		Type:   "urn:sealauth:error:" + string(e.Code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   e.Code,
		Errors: e.Fields,
	}
	writeJSON(w, status, contentProblem, p)
}
