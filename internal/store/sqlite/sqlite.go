// Package sqlite implements auth.Store on a SQLite file through the pure-Go driver
// modernc.org/sqlite.
//
// Times are stored as INTEGER Unix microseconds in UTC (see migrations/0001_init.sql).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/migrate"
	"github.com/sealauth/sealauth/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateTimeout bounds Migrate; it is longer than a query because a migration may
// rewrite a whole table.
const migrateTimeout = time.Minute

// Options tune a Store; the zero value is usable.
type Options struct {
	// QueryTimeout bounds every query, on top of the caller's context. Default 5s.
	QueryTimeout time.Duration
	// BusyTimeout is how long a connection waits for another process's write lock
	// before failing with SQLITE_BUSY. Default 5s.
	BusyTimeout time.Duration
	// Now stamps applied migrations. Default time.Now.
	Now func() time.Time
}

// Store is an auth.Store backed by one SQLite file.
//
// SQLite allows one writer at a time, so writes go through a pool of a single
// connection, where they queue in database/sql under their context deadline instead
// of spinning on SQLITE_BUSY; reads use a separate pool of query-only connections,
// which WAL mode lets run alongside the writer.
type Store struct {
	*sqlstore.Store
	w          *sql.DB // the writer, which also migrates
	timeout    time.Duration
	migrations migrate.Runner
}

var _ auth.Store = (*Store)(nil)

// dialect is how SQLite differs from the other engines in the store's queries.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:           "sqlite",
		UnixMicros:     true,
		Returning:      true,
		KeysTable:      "keys",
		OnDuplicateJTI: "ON CONFLICT (jti) DO NOTHING",
		// The email column is COLLATE NOCASE.
		UserByEmail: func(email string) (string, []any) {
			return "SELECT " + userColumns + " FROM users WHERE email = ?", []any{email}
		},
		UserByID:    "SELECT " + userColumns + " FROM users WHERE id = ?",
		Unavailable: unavailable,
		// users.id is never supplied, so the only unique column of users that
		// can clash is email.
		EmailTaken: isUnique,
		KeyExists:  isUnique,
	}
}

const userColumns = "id, name, email, password, created_at"

// Open opens (creating if needed) the SQLite database at path, a file name or a
// "file:" URI. It does not migrate: call Migrate.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if path == "" || path == ":memory:" {
		// Every pooled connection would get its own empty in-memory database.
		return nil, errors.New("sqlite: open: need a file path")
	}
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 5 * time.Second
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(path, "file:") {
		// The file holds password hashes: create it private. SQLite gives its -wal and
		// -shm files the same mode. The driver drops a plain name's query, so do we.
		name, _, _ := strings.Cut(path, "?")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the operator's configured database path
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w: %w", auth.ErrUnavailable, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: open: %w: %w", auth.ErrUnavailable, err)
		}
	}
	w, err := pool(dsn(path, opt.BusyTimeout, false), 1)
	if err != nil {
		return nil, err
	}
	r, err := pool(dsn(path, opt.BusyTimeout, true), max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	s := &Store{
		Store:      sqlstore.New(dialect(), w, r, opt.QueryTimeout),
		w:          w,
		timeout:    opt.QueryTimeout,
		migrations: migrate.Runner{Migrations: ms, Now: opt.Now},
	}
	// A bad path fails Open rather than the first request. The writer connects
	// first because it switches the file to WAL mode.
	for _, db := range []*sql.DB{w, r} {
		if err := connect(ctx, db, opt.QueryTimeout); err != nil {
			return nil, errors.Join(s.Wrap("open", err), w.Close(), r.Close())
		}
	}
	return s, nil
}

// dsn adds the connection settings to path. On the writer, _txlock=immediate makes
// transactions take the write lock at BEGIN, so a read-then-write transaction cannot
// fail halfway with SQLITE_BUSY; the migration runner relies on it.
func dsn(path string, busy time.Duration, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	if readOnly {
		q.Set("_query_only", "on")
	} else {
		q.Set("_txlock", "immediate")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// pool opens a pool of at most n connections, which connects on first use.
func pool(dsn string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// connect makes the first connection of db, bounded by timeout.
func connect(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return db.PingContext(ctx)
}

// Migrate applies the pending migrations. Concurrent calls, from this process or
// others, are safe: each migration runs in a BEGIN IMMEDIATE transaction that
// re-checks schema_migrations, and busy_timeout makes the others wait their turn.
func (s *Store) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	if err := s.migrations.Up(ctx, s.w); err != nil {
		return s.Wrap("migrate", err)
	}
	return nil
}

// MigrationStatus lists the migrations this build knows, applied or pending, and
// any the database has that it does not know.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrate.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.migrations.Status(ctx, s.w)
	if err != nil {
		return nil, s.Wrap("migration status", err)
	}
	return st, nil
}

// unavailable reports whether err means the database could not be reached or did
// not answer in time, as opposed to rejecting the query.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code; extended codes are enabled
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL:
		return true
	}
	return false
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
