package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestErrorMapping pins which driver errors mean "unavailable" (the API answers
// 503) and which unique violations mean a taken email, by type, SQLSTATE and
// constraint, never by message.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		unavailable bool
		emailTaken  bool
	}{
		{name: "deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), unavailable: true},
		{name: "bad connection", err: driver.ErrBadConn, unavailable: true},
		{name: "refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, unavailable: true},
		{name: "admin shutdown", err: &pgconn.PgError{Code: "57P01"}, unavailable: true},
		{name: "starting up", err: &pgconn.PgError{Code: "57P03"}, unavailable: true},
		{name: "too many connections", err: &pgconn.PgError{Code: "53300"}, unavailable: true},
		{name: "statement timeout", err: &pgconn.PgError{Code: "57014"}, unavailable: true},
		{name: "read-only standby", err: &pgconn.PgError{Code: "25006"}, unavailable: true},
		{name: "email taken", err: fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505", ConstraintName: "users_email_lower"}), emailTaken: true},
		{name: "another unique violation", err: &pgconn.PgError{Code: "23505", ConstraintName: "users_pkey"}},
		{name: "syntax error", err: &pgconn.PgError{Code: "42601"}},
		{name: "invalid password", err: &pgconn.PgError{Code: "28P01"}},
	}
	for _, tt := range tests {
		if got := unavailable(tt.err); got != tt.unavailable {
			t.Errorf("unavailable(%s) = %v, want %v", tt.name, got, tt.unavailable)
		}
		if got := uniqueViolation(tt.err, "users_email_lower"); got != tt.emailTaken {
			t.Errorf("uniqueViolation(%s, users_email_lower) = %v, want %v", tt.name, got, tt.emailTaken)
		}
	}
}
