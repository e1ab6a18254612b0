package migrate

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite" // the runner is dialect-neutral; SQLite is the database at hand
)

// openDB returns a SQLite database in a temporary directory, configured as the
// sqlite backend configures its writer.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate&_busy_timeout=5000")
	if err != nil {
		t.Fatalf("sql.Open: err = %v, want nil", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func load(t *testing.T, files map[string]string) []Migration {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys["m/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatalf("Load: err = %v, want nil", err)
	}
	return ms
}

func TestLoadSortsByVersionAndSkipsOtherFiles(t *testing.T) {
	ms := load(t, map[string]string{
		"0010_c.sql": "c",
		"0002_b.sql": "b",
		"0001_a.sql": "a",
		"README.md":  "not a migration",
	})
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+"="+m.SQL)
	}
	if want := "0001_a.sql=a 0002_b.sql=b 0010_c.sql=c"; strings.Join(got, " ") != want {
		t.Errorf("Load: got %v, want %s", got, want)
	}
	if ms[2].Version != 10 {
		t.Errorf("Load: version of 0010_c.sql = %d, want 10", ms[2].Version)
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{name: "no version", files: []string{"init.sql"}},
		{name: "version zero", files: []string{"0000_init.sql"}},
		{name: "not a number", files: []string{"v1_init.sql"}},
		{name: "same version twice", files: []string{"0001_a.sql", "1_b.sql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys[f] = &fstest.MapFile{Data: []byte("SELECT 1")}
			}
			if _, err := Load(fsys, "."); err == nil {
				t.Errorf("Load(%v): err = nil, want an error", tt.files)
			}
		})
	}
}

func TestUpAppliesInOrderOnce(t *testing.T) {
	db := openDB(t)
	at := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
	r := Runner{
		Migrations: load(t, map[string]string{
			"0001_t.sql": "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
			// Fails unless 0001 ran first.
			"0002_more.sql": "INSERT INTO t VALUES (2);",
		}),
		Now: func() time.Time { return at },
	}
	for i := range 2 {
		if err := r.Up(t.Context(), db); err != nil {
			t.Fatalf("Up(#%d): err = %v, want nil", i+1, err)
		}
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("count t: err = %v, want nil", err)
	}
	if n != 2 {
		t.Errorf("rows in t = %d, want 2 (each migration applied once)", n)
	}
	st, err := r.Status(t.Context(), db)
	if err != nil {
		t.Fatalf("Status: err = %v, want nil", err)
	}
	if len(st) != 2 {
		t.Fatalf("Status: %d entries, want 2", len(st))
	}
	for _, s := range st {
		if !s.AppliedAt.Equal(at) || s.AppliedAt.Location() != time.UTC {
			t.Errorf("Status: %s applied at %v, want %v", s.Name, s.AppliedAt, at)
		}
	}
}

func TestUpStopsAtAFailureAndRollsItBack(t *testing.T) {
	db := openDB(t)
	bad := Runner{Migrations: load(t, map[string]string{
		"0001_ok.sql":   "CREATE TABLE ok (x INTEGER);",
		"0002_bad.sql":  "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;",
		"0003_next.sql": "CREATE TABLE next (x INTEGER);",
	})}
	err := bad.Up(t.Context(), db)
	if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("Up: err = %v, want an error naming 0002_bad.sql", err)
	}
	st, err := bad.Status(t.Context(), db)
	if err != nil {
		t.Fatalf("Status: err = %v, want nil", err)
	}
	if pending := []bool{st[0].Pending(), st[1].Pending(), st[2].Pending()}; pending[0] || !pending[1] || !pending[2] {
		t.Errorf("Status: pending = %v, want [false true true]", pending)
	}
	var n int
	if err := db.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('half', 'next')").Scan(&n); err != nil {
		t.Fatalf("read sqlite_schema: err = %v, want nil", err)
	}
	if n != 0 {
		t.Errorf("tables of the failed and later migrations: %d exist, want 0", n)
	}
}

func TestUpHoldsTheLockOnItsConnection(t *testing.T) {
	db := openDB(t)
	var locked, unlocked int
	r := Runner{
		Migrations: load(t, map[string]string{"0001_t.sql": "CREATE TABLE t (x INTEGER);"}),
		Lock: func(ctx context.Context, conn *sql.Conn) (func(context.Context) error, error) {
			locked++
			// The lock must run on a live connection, as GET_LOCK would.
			if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
				return nil, err
			}
			return func(context.Context) error { unlocked++; return nil }, nil
		},
	}
	if err := r.Up(t.Context(), db); err != nil {
		t.Fatalf("Up: err = %v, want nil", err)
	}
	if locked != 1 || unlocked != 1 {
		t.Errorf("Up: locked %d and unlocked %d times, want 1 and 1", locked, unlocked)
	}
}

func TestUpReportsLockErrors(t *testing.T) {
	errLock, errUnlock := errors.New("lock refused"), errors.New("unlock failed")
	ms := []Migration{{Version: 1, Name: "0001_t.sql", SQL: "CREATE TABLE t (x INTEGER);"}}
	tests := []struct {
		name string
		lock Locker
		want error
	}{
		{
			name: "lock fails",
			lock: func(context.Context, *sql.Conn) (func(context.Context) error, error) { return nil, errLock },
			want: errLock,
		},
		{
			name: "unlock fails",
			lock: func(context.Context, *sql.Conn) (func(context.Context) error, error) {
				return func(context.Context) error { return errUnlock }, nil
			},
			want: errUnlock,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Runner{Migrations: ms, Lock: tt.lock}
			if err := r.Up(t.Context(), openDB(t)); !errors.Is(err, tt.want) {
				t.Errorf("Up: err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStatusListsVersionsThisBuildDoesNotKnow(t *testing.T) {
	db := openDB(t)
	newer := Runner{Migrations: load(t, map[string]string{
		"0001_a.sql": "CREATE TABLE a (x INTEGER);",
		"0002_b.sql": "CREATE TABLE b (x INTEGER);",
	})}
	if err := newer.Up(t.Context(), db); err != nil {
		t.Fatalf("Up: err = %v, want nil", err)
	}
	older := Runner{Migrations: newer.Migrations[:1]}
	st, err := older.Status(t.Context(), db)
	if err != nil {
		t.Fatalf("Status: err = %v, want nil", err)
	}
	if len(st) != 2 || st[1].Version != 2 || st[1].Name != "0002_b.sql" || st[1].Pending() {
		t.Errorf("Status: got %+v, want 0001_a.sql and 0002_b.sql, both applied", st)
	}
	if len(st) == 2 && (st[0].Unknown || !st[1].Unknown) {
		t.Errorf("Status: Unknown = %v, %v, want false, true (only 0002_b.sql is unknown to the runner)", st[0].Unknown, st[1].Unknown)
	}
}

func TestBind(t *testing.T) {
	const q = "INSERT INTO t (a, b) VALUES (?, ?)"
	if got := (Runner{}).bind(q); got != q {
		t.Errorf("bind: got %q, want %q", got, q)
	}
	if got, want := (Runner{Numbered: true}).bind(q), "INSERT INTO t (a, b) VALUES ($1, $2)"; got != want {
		t.Errorf("bind(Numbered): got %q, want %q", got, want)
	}
}
