// Package migrate applies a backend's versioned SQL files to its database.
//
// Each backend embeds its own files (0001_init.sql, 0002_….sql) and hands them to a
// Runner. Applied versions are recorded in a schema_migrations table whose DDL is
// the same on SQLite, MySQL and PostgreSQL, so the runner itself knows nothing about
// the dialect beyond the placeholder style and an optional lock.
package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned SQL file.
type Migration struct {
	Version int    // the number before the first underscore of the file name
	Name    string // the file name, e.g. "0001_init.sql"
	SQL     string
}

// Status tells whether one migration has been applied, and when.
type Status struct {
	Version   int
	Name      string
	AppliedAt time.Time // UTC; zero while the migration is pending
	// Unknown marks a version the database has but the Runner does not: a newer
	// build applied it.
	Unknown bool
}

// Pending reports whether the migration has not been applied yet.
func (s Status) Pending() bool { return s.AppliedAt.IsZero() }

// Locker takes a lock that keeps other processes from migrating the same database
// until unlock is called. It runs on conn, the one connection the runner then uses
// for all its work, so session-scoped locks such as MySQL's GET_LOCK and
// PostgreSQL's pg_advisory_lock fit.
type Locker func(ctx context.Context, conn *sql.Conn) (unlock func(context.Context) error, err error)

// Runner applies Migrations in version order.
type Runner struct {
	Migrations []Migration
	// Numbered selects PostgreSQL's $1, $2 bind parameters instead of ?.
	Numbered bool
	// Lock, when set, is held for the whole run. Without it, concurrent runners rely
	// on each migration's transaction taking the write lock before it checks whether
	// the migration is still pending, which is what SQLite's BEGIN IMMEDIATE does.
	Lock Locker
	// Now stamps applied_at; nil means time.Now.
	Now func() time.Time
}

// createTable uses only types that SQLite, MySQL and PostgreSQL all accept.
// applied_at is RFC 3339 text so that no driver's time conversion is involved.
const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at VARCHAR(40)  NOT NULL
)`

// Load reads the files named like 0001_init.sql in dir of fsys, sorted by version.
// Other files are ignored so that a README can sit beside them.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		digits, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: %s: want a name like 0001_init.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrate: %s and %s have the same version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Up applies every pending migration, each in its own transaction together with its
// schema_migrations row, and stops at the first failure. Running it again, or from
// several processes at once, applies each migration exactly once.
//
// Each file is sent to the driver in one Exec, so the driver must accept several
// statements in one call (MySQL: multiStatements=true). MySQL commits DDL
// implicitly, so there a failed file can leave part of its statements applied.
func (r Runner) Up(ctx context.Context, db *sql.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()

	if r.Lock != nil {
		unlock, lerr := r.Lock(ctx, conn)
		if lerr != nil {
			return fmt.Errorf("migrate: lock: %w", lerr)
		}
		defer func() {
			// Release the lock even when ctx has ended, or the next run would wait for it.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if uerr := unlock(uctx); uerr != nil {
				// A session lock dies with its connection: make database/sql discard it
				// rather than pool a connection that still holds the lock.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				err = errors.Join(err, fmt.Errorf("migrate: unlock: %w", uerr))
			}
		}()
	}

	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedOn(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range r.Migrations {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if err := r.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs one migration unless another runner applied it since Up looked.
func (r Runner) apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit it only reports sql.ErrTxDone

	// Checked again inside the transaction: with the write lock held, the answer
	// cannot change before Commit.
	var n int
	if err := tx.QueryRowContext(ctx, r.bind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if _, err := tx.ExecContext(ctx,
		r.bind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.Version, m.Name, now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	return tx.Commit()
}

// Status lists every migration of the runner, applied or pending, in version order,
// followed by versions the database has but the runner does not know (applied by a
// newer build). It creates schema_migrations if it is missing, because there is no
// portable way to ask whether a table exists.
func (r Runner) Status(ctx context.Context, db *sql.DB) ([]Status, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedOn(ctx, conn)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, m := range r.Migrations {
		s := Status{Version: m.Version, Name: m.Name}
		if a, ok := applied[m.Version]; ok {
			s.AppliedAt = a.AppliedAt
			delete(applied, m.Version)
		}
		out = append(out, s)
	}
	unknown := make([]Status, 0, len(applied))
	for _, a := range applied {
		a.Unknown = true
		unknown = append(unknown, a)
	}
	slices.SortFunc(unknown, func(a, b Status) int { return a.Version - b.Version })
	return append(out, unknown...), nil
}

// appliedOn reads schema_migrations, keyed by version.
func appliedOn(ctx context.Context, conn *sql.Conn) (map[int]Status, error) {
	rows, err := conn.QueryContext(ctx, "SELECT version, name, applied_at FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := make(map[int]Status)
	for rows.Next() {
		var s Status
		var at string
		if err := rows.Scan(&s.Version, &s.Name, &at); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		if s.AppliedAt, err = time.Parse(time.RFC3339, at); err != nil {
			return nil, fmt.Errorf("migrate: version %d: applied_at: %w", s.Version, err)
		}
		s.AppliedAt = s.AppliedAt.UTC()
		applied[s.Version] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	return applied, nil
}

// bind rewrites the ? placeholders of q for drivers that want $1, $2….
func (r Runner) bind(q string) string {
	if !r.Numbered {
		return q
	}
	return Numbered(q)
}

// Numbered rewrites every ? of q to $1, $2… (PostgreSQL's placeholders). It
// is for our own queries, which contain no other question marks.
func Numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
