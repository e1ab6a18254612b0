// Package postgres implements auth.Store on PostgreSQL through pgx
// (github.com/jackc/pgx/v5), used as a database/sql driver so that the store
// shares the migration runner and the pool of the other backends.
//
// Times are timestamptz and come back in UTC. Emails are unique and looked up by
// lower(email), through a unique expression index.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/migrate"
	"github.com/sealauth/sealauth/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateTimeout bounds Migrate; it is longer than a query because a migration
// may rewrite or index a whole table.
const migrateTimeout = 5 * time.Minute

// Options tune a Store; the zero value is usable (see sqlstore.PoolOptions).
type Options = sqlstore.PoolOptions

// Store is an auth.Store backed by a PostgreSQL database.
type Store struct {
	*sqlstore.Store
	db         *sql.DB
	timeout    time.Duration
	migrations migrate.Runner
}

var _ auth.Store = (*Store)(nil)

// dialect is how PostgreSQL differs from the other engines in the store's
// queries.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:           "postgres",
		Numbered:       true,
		Returning:      true,
		KeysTable:      "keys",
		OnDuplicateJTI: "ON CONFLICT (jti) DO NOTHING",
		UserByEmail: func(email string) (string, []any) {
			return queryUserByEmail, []any{email}
		},
		UserByID:    queryUserByID,
		Unavailable: unavailable,
		EmailTaken:  func(err error) bool { return uniqueViolation(err, "users_email_lower") },
		KeyExists:   func(err error) bool { return uniqueViolation(err, "keys_pkey") },
		Text:        text,
		Storable:    storable,
	}
}

const userColumns = "id, name, email, password, created_at"

// The lookups of every login and profile request; a test checks that they use
// the unique index on lower(email), the expression compared here, and the
// primary key.
const (
	queryUserByEmail = "SELECT " + userColumns + " FROM users WHERE lower(email) = lower($1)"
	queryUserByID    = "SELECT " + userColumns + " FROM users WHERE id = $1"
)

// Open connects to the database named by rawURL, a postgres:// or postgresql://
// URL as libpq and pgx take it (sslmode, connect_timeout, … as query
// parameters). Like libpq, pgx also reads the PG* environment variables and
// ~/.pgpass for what the URL leaves out. Open checks that the server answers;
// it does not migrate: call Migrate.
func Open(ctx context.Context, rawURL string, opt Options) (*Store, error) {
	opt.SetDefaults()
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = opt.DialTimeout
	}
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	s := &Store{
		timeout:    opt.QueryTimeout,
		migrations: migrate.Runner{Migrations: ms, Numbered: true, Lock: lock, Now: opt.Now},
		db:         stdlib.OpenDB(*cfg),
	}
	s.Store = sqlstore.New(dialect(), s.db, s.db, s.timeout)
	opt.Apply(s.db)
	// A bad address or password fails Open rather than the first request.
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", s.timeout, err)
		}
		return nil, errors.Join(s.Wrap("open", err), s.db.Close())
	}
	return s, nil
}

// ParseURL parses a postgres:// or postgresql:// URL. Its errors never contain
// the password.
func ParseURL(rawURL string) (*pgx.ConnConfig, error) {
	const form = "want postgres://user:password@host:5432/database" // #nosec G101 -- the form of a URL, not a credential
	scheme, _, _ := strings.Cut(rawURL, "://")
	if scheme != "postgres" && scheme != "postgresql" {
		// pgx would also take "key=value" strings, which DATABASE_URL does not promise.
		return nil, errors.New("postgres: not a postgres:// or postgresql:// URL; " + form)
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// The error quotes the URL; pgx masks the password, but only as well as it
		// can parse the URL, and a url.Error beneath quotes it whole.
		var ue *url.Error
		if pe := (*pgconn.ParseConfigError)(nil); errors.As(err, &pe) && pe.Unwrap() != nil && !errors.As(pe.Unwrap(), &ue) {
			return nil, fmt.Errorf("postgres: invalid URL: %v; %s", pe.Unwrap(), form)
		}
		return nil, errors.New("postgres: invalid URL (percent-encode special characters in the password); " + form)
	}
	return cfg, nil
}

// Migrate applies the pending migrations. Concurrent calls, from this process or
// others, are safe: the runner holds an advisory lock, and each migration runs
// in a transaction with its schema_migrations row.
func (s *Store) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	// pgx sends a statement without arguments by the simple query protocol,
	// which runs a whole migration file in one Exec.
	if err := s.migrations.Up(ctx, s.db); err != nil {
		return s.Wrap("migrate", err)
	}
	return nil
}

// MigrationStatus lists the migrations this build knows, applied or pending, and
// any the database has that it does not know.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrate.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.migrations.Status(ctx, s.db)
	if err != nil {
		return nil, s.Wrap("migration status", err)
	}
	return st, nil
}

// lockKey is the advisory lock of migrations. Advisory locks belong to one
// database, so a constant key serves every database on a server.
const lockKey = 0x5ea1a07_0001

// lock takes the migration lock on conn, waiting for as long as ctx allows: pgx
// breaks the connection when ctx ends, which abandons the wait.
func lock(ctx context.Context, conn *sql.Conn) (func(context.Context) error, error) {
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		var released bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", int64(lockKey)).Scan(&released); err != nil {
			return err
		}
		if !released {
			return errors.New("the migration lock was no longer held")
		}
		return nil
	}, nil
}

// unavailable reports whether err means the server could not be reached, did not
// answer in time or asked to be retried, as opposed to rejecting the query.
func unavailable(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr), errors.As(err, &connErr),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"), // connection exception
		strings.HasPrefix(pe.Code, "53"),  // insufficient resources: too many connections, disk full
		strings.HasPrefix(pe.Code, "57P"), // shutting down, crashed, starting up
		pe.Code == "57014",                // query_canceled: statement_timeout
		pe.Code == "40001",                // serialization_failure
		pe.Code == "40P01",                // deadlock_detected
		pe.Code == "55P03",                // lock_not_available
		pe.Code == "25006":                // read_only_sql_transaction: a standby after a failover
		return true
	}
	return false
}

// uniqueViolation reports whether err is a unique violation of constraint.
func uniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// storable reports whether s can be a text value: PostgreSQL refuses NUL and,
// in a UTF8 database, invalid UTF-8 with an error. Looking up such a value
// finds nothing, and must say so rather than fail.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// text makes s storable: free text such as a User-Agent header, and a jti to
// record or a session id to spare that storable refuses.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
