package auth

import (
	"errors"
	"time"
)

// Code is a stable, machine-readable error code. Codes are API: clients switch on
// them, so never rename one.
type Code string

// The error codes. internal/httpapi maps each to exactly one HTTP status.
const (
	CodeInvalidJSON           Code = "invalid_json"
	CodeInvalidSealed         Code = "invalid_sealed_password"
	CodeUnknownKey            Code = "unknown_key"
	CodeValidation            Code = "validation_failed"
	CodeEmailTaken            Code = "email_taken"
	CodeInvalidCredentials    Code = "invalid_credentials" // #nosec G101 -- an error code, not a credential
	CodeInvalidToken          Code = "invalid_token"
	CodeUnsupportedMediaType  Code = "unsupported_media_type"
	CodePayloadTooLarge       Code = "payload_too_large"
	CodeNotFound              Code = "not_found"
	CodeMethodNotAllowed      Code = "method_not_allowed"
	CodeRateLimited           Code = "rate_limited"
	CodeServiceUnavailable    Code = "service_unavailable"
	CodeInternal              Code = "internal"
	CodeRequestHeaderTooLarge Code = "request_header_too_large"
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type the service returns to the HTTP layer. Detail is
// shown to the client, so it never holds secrets; Err is the cause, for logs only.
type Error struct {
	Code       Code
	Detail     string
	Fields     []FieldError
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Detail + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// detailValidation is the detail of every validation error; the fields say what.
const detailValidation = "Validation failed"

// invalid is the validation error for one field.
func invalid(field, message string) *Error {
	return &Error{Code: CodeValidation, Detail: detailValidation, Fields: []FieldError{{Field: field, Message: message}}}
}

// Errorf-style constructors keep call sites short.
func newError(code Code, detail string) *Error { return &Error{Code: code, Detail: detail} }

func wrapError(code Code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// Details the tutorial's clients already show to users; keep them word for word.
const (
	detailInvalidCredentials = "Invalid credentials"      // #nosec G101 -- a message, not a credential
	detailInvalidToken       = "Invalid or expired token" // #nosec G101 -- a message, not a credential
)

var (
	errInvalidCredentials = newError(CodeInvalidCredentials, detailInvalidCredentials)
	errInvalidToken       = newError(CodeInvalidToken, detailInvalidToken)
)

// storeError turns a Store error into an *Error: unavailability becomes 503, the
// rest is a real bug and becomes 500 with the cause kept for the log.
func storeError(err error) *Error {
	if errors.Is(err, ErrUnavailable) {
		return &Error{Code: CodeServiceUnavailable, Detail: "The service is temporarily unavailable; try again shortly.", RetryAfter: 5 * time.Second, Err: err}
	}
	return wrapError(CodeInternal, "Internal server error", err)
}

// ErrorCode returns the code of err if it is an *Error, else CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
