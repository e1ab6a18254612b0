// Package sqlstore implements auth.Store over database/sql for the SQLite, MySQL
// and PostgreSQL backends. The queries and their logic are the same on the three
// engines; a Dialect names what differs. Each backend package opens the
// connections, owns the migrations and hands its Dialect to New.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/migrate"
)

// Dialect says how one engine differs from the others in the queries of this
// package. Func fields other than Text and Storable are required.
type Dialect struct {
	// Name begins every error message: "sqlite", "mysql" or "postgres".
	Name string
	// Numbered rewrites the ? placeholders of this package's queries as $1, $2, …
	// (PostgreSQL).
	Numbered bool
	// UnixMicros binds times as INTEGER Unix microseconds (SQLite). Otherwise
	// they are bound as a time.Time in UTC, truncated to the microseconds that
	// DATETIME(6) and timestamptz keep. Either way truncation, unlike rounding,
	// never reverses the order of two times.
	UnixMicros bool
	// Returning says that the engine has INSERT … RETURNING and UPDATE …
	// RETURNING. Without it (MySQL), CreateUser reads the driver's LastInsertId
	// and RevokeUserSessions selects the sessions it then updates.
	Returning bool
	// ForUpdate ends the SELECTs of rows that a transaction goes on to change, on
	// an engine where a plain SELECT reads a snapshot that may predate a
	// concurrent commit: " FOR UPDATE" on MySQL. SQLite runs one write
	// transaction at a time and PostgreSQL's READ COMMITTED reads the latest
	// commit, so "" there.
	ForUpdate string
	// KeysTable names the keys table as the engine must spell it: KEYS is a
	// reserved word in MySQL.
	KeysTable string
	// OnDuplicateJTI ends the INSERT of a revocation so that a jti stored
	// already keeps its row, without an error.
	OnDuplicateJTI string

	// UserByEmail returns the query that looks a user up by email, case-
	// insensitively, and its arguments; UserByID is the query by id. They are
	// the engine's own, written with its own placeholders, and select id, name,
	// email, password and created_at.
	UserByEmail func(email string) (query string, args []any)
	UserByID    string

	// Unavailable reports whether err means the database could not be reached,
	// did not answer in time or asked to be retried, as opposed to rejecting the
	// query. Such errors are wrapped with auth.ErrUnavailable.
	Unavailable func(err error) bool
	// EmailTaken and KeyExists report whether err is the violation of the
	// unique key on users' email and on keys' id.
	EmailTaken, KeyExists func(err error) bool

	// Text makes free text, such as a User-Agent header, storable in the
	// engine's text columns. Nil stores strings as they are.
	Text func(string) string
	// Storable reports whether the engine takes a string as an identifier (an
	// email, a session or key id, a token hash, a jti) at all; nil means every
	// string. PostgreSQL's text refuses NUL and invalid UTF-8 with an error.
	// Looking up an identifier that is not storable finds nothing, without a
	// query; a jti to record or a session to spare goes through Text instead,
	// which must then be set.
	Storable func(string) bool
}

// Store is an auth.Store on database/sql pools.
type Store struct {
	d       Dialect
	w, r    *sql.DB
	timeout time.Duration
	closed  atomic.Bool // database/sql's "database is closed" error has no type to test
}

var _ auth.Store = (*Store)(nil)

// New returns a Store that writes through w and reads through r, which may be
// the same pool. Every query is bounded by timeout on top of the caller's
// context. The Store owns the pools: Close closes them.
func New(d Dialect, w, r *sql.DB, timeout time.Duration) *Store {
	return &Store{d: d, w: w, r: r, timeout: timeout}
}

// Ping reports whether the database answers, through both pools where there
// are two.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := s.w.PingContext(ctx); err != nil {
		return s.Wrap("ping", err)
	}
	if s.r == s.w {
		return nil
	}
	if err := s.r.PingContext(ctx); err != nil {
		return s.Wrap("ping", err)
	}
	return nil
}

// Close closes the pools. Calls made afterwards fail with auth.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.w.Close(), s.r.Close())
}

// Wrap names the operation and marks the errors callers act on: sql.ErrNoRows
// becomes auth.ErrNotFound; what the Dialect deems unavailable, and any error
// once the Store is closed, is wrapped with auth.ErrUnavailable. The backends
// use it for their own operations too. Callers must not pass user data in op:
// it ends up in logs.
func (s *Store) Wrap(op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.notFound(op)
	case s.closed.Load() || s.d.Unavailable(err):
		return fmt.Errorf("%s: %s: %w: %w", s.d.Name, op, auth.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
	}
}

// notFound is the error of op when no row matches.
func (s *Store) notFound(op string) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, auth.ErrNotFound)
}

// withTimeout derives the context of one query.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// inTx runs fn in a transaction on the writer, committing if it returns nil. A
// failed rollback is not reported: the database rolls back when the connection
// goes.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// q rewrites the ? placeholders of query where the engine wants $1, $2….
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	return migrate.Numbered(query)
}

// dbTime is t as bound to a query (see Dialect.UnixMicros).
func (s *Store) dbTime(t time.Time) any {
	if s.d.UnixMicros {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// text makes free text storable (see Dialect.Text).
func (s *Store) text(v string) string {
	if s.d.Text == nil {
		return v
	}
	return s.d.Text(v)
}

// storable reports whether v can be an identifier (see Dialect.Storable).
func (s *Store) storable(v string) bool {
	return s.d.Storable == nil || s.d.Storable(v)
}

// storableID is the identifier v as it can be stored or compared: v itself, or
// v passed through Text where the engine refuses it.
func (s *Store) storableID(v string) string {
	if s.storable(v) {
		return v
	}
	return s.text(v)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// collect runs query and scans every row it yields with scan.
func collect[T any](ctx context.Context, db querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanTime and scanNullTime are Scan destinations for a time column, which
// SQLite hands over as INTEGER Unix microseconds and MySQL and PostgreSQL as a
// time.Time. Both store the time in UTC in *t; scanNullTime stores the zero
// time for NULL, which scanTime refuses.
func scanTime(t *time.Time) sql.Scanner     { return timeDest{t: t} }
func scanNullTime(t *time.Time) sql.Scanner { return timeDest{t: t, null: true} }

type timeDest struct {
	t    *time.Time
	null bool
}

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	case time.Time:
		*d.t = v.UTC()
	case nil:
		if !d.null {
			return errors.New("converting NULL to time.Time is unsupported")
		}
		*d.t = time.Time{}
	default:
		return fmt.Errorf("converting %T to time.Time is unsupported", src)
	}
	return nil
}
