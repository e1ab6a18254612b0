package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestErrorMapping pins which driver errors mean "unavailable" (the API answers
// 503) and which mean "duplicate key", by type and number, never by message.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name              string
		err               error
		unavailable, dupl bool
	}{
		{name: "deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), unavailable: true},
		{name: "bad connection", err: driver.ErrBadConn, unavailable: true},
		{name: "invalid connection", err: mysql.ErrInvalidConn, unavailable: true},
		{name: "refused", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, unavailable: true},
		{name: "too many connections", err: &mysql.MySQLError{Number: 1040}, unavailable: true},
		{name: "deadlock", err: &mysql.MySQLError{Number: 1213}, unavailable: true},
		{name: "read-only after failover", err: &mysql.MySQLError{Number: 1290}, unavailable: true},
		{name: "duplicate entry", err: fmt.Errorf("insert: %w", &mysql.MySQLError{Number: 1062}), dupl: true},
		{name: "syntax error", err: &mysql.MySQLError{Number: 1064}},
		{name: "access denied", err: &mysql.MySQLError{Number: 1045}},
		{name: "data too long", err: &mysql.MySQLError{Number: 1406}},
	}
	for _, tt := range tests {
		if got := unavailable(tt.err); got != tt.unavailable {
			t.Errorf("unavailable(%s) = %v, want %v", tt.name, got, tt.unavailable)
		}
		if got := isDuplicate(tt.err); got != tt.dupl {
			t.Errorf("isDuplicate(%s) = %v, want %v", tt.name, got, tt.dupl)
		}
	}
}
