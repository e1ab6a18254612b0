package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The error codes of sealauth's problem documents. They are stable API: a
// server never renames one. New codes may appear; treat an unknown code by its
// status.
const (
	CodeInvalidJSON           = "invalid_json"
	CodeInvalidSealed         = "invalid_sealed_password"
	CodeUnknownKey            = "unknown_key"
	CodeValidation            = "validation_failed"
	CodeEmailTaken            = "email_taken"
	CodeInvalidCredentials    = "invalid_credentials" // #nosec G101 -- an error code, not a credential
	CodeInvalidToken          = "invalid_token"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodePayloadTooLarge       = "payload_too_large"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeRateLimited           = "rate_limited"
	CodeServiceUnavailable    = "service_unavailable"
	CodeInternal              = "internal"
	CodeRequestHeaderTooLarge = "request_header_too_large"
)

// FieldError names one invalid field of a request, as in the "errors" member
// of a validation_failed problem.
type FieldError struct {
	Field   string
	Message string
}

// Error is an answer of the server other than a success: an RFC 9457 problem
// document, or for an answer that is not one (a proxy's page, net/http's plain
// text for 431), just the status with an empty Code.
//
// Its fields come from the server, which never puts secrets in them; the
// client in addition removes any token or password of the request from Detail.
type Error struct {
	// Op names the client method that failed, e.g. "login".
	Op string
	// Status is the HTTP status code.
	Status int
	// Code is the stable, machine-readable error code, one of the Code
	// constants; empty when the answer was not a problem document.
	Code string
	// Type is the problem's type URI, e.g. "urn:sealauth:error:rate_limited".
	Type string
	// Title is the short summary of the status, e.g. "Unauthorized".
	Title string
	// Detail is the human-readable explanation, fit to show to a user.
	Detail string
	// Fields lists the invalid fields of a validation_failed problem.
	Fields []FieldError
	// RetryAfter is the delay the Retry-After header asked for (429, 503), or 0.
	RetryAfter time.Duration
	// RequestID is the server's X-Request-Id of the request, for its logs.
	RequestID string
}

// Error describes the failure as "sealauth: OP: STATUS CODE: DETAIL".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sealauth: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	} else if e.Title != "" {
		b.WriteString(" ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Message)
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.RequestID != "" {
		b.WriteString(" [request ")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	return b.String()
}

// Is reports whether target is an *Error with the same Code, so that an
// *Error with only a Code set works as a sentinel for [errors.Is]:
//
//	errors.Is(err, &client.Error{Code: client.CodeEmailTaken})
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code != "" && t.Code == e.Code
}

// IsCode reports whether err is, or wraps, an [*Error] with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Field returns the message of the first field error about field, and
// whether there is one.
func (e *Error) Field(field string) (string, bool) {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Message, true
		}
	}
	return "", false
}
