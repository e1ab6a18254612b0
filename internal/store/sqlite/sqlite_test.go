package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/auth/authtest"
	"github.com/sealauth/sealauth/internal/store/sqlite"
)

// open opens a Store on path and closes it when the test ends.
func open(t *testing.T, path string, opt sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opt)
	if err != nil {
		t.Fatalf("Open(%q): err = %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: err = %v, want nil", err)
		}
	})
	return s
}

func tempPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "sealauth.db")
}

// TestStore runs the conformance suite, whose concurrent subtest is what
// `go test -race` exercises here.
func TestStore(t *testing.T) {
	authtest.TestStore(t, func(t *testing.T) auth.Store {
		s := open(t, tempPath(t), sqlite.Options{})
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: err = %v, want nil", err)
		}
		return s
	})
}

// TestCreateUserRaceAcrossStores is the suite's race between two Stores on one file,
// as between two server processes: there the writers contend for SQLite's lock,
// which busy_timeout must absorb.
func TestCreateUserRaceAcrossStores(t *testing.T) {
	path := tempPath(t)
	stores := []*sqlite.Store{open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})}
	if err := stores[0].Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	errs := make([]error, 50)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			u := auth.User{Name: "racer", Email: "race@example.com", PasswordHash: "x", CreatedAt: time.Now()}
			<-start
			errs[i] = stores[i%len(stores)].CreateUser(t.Context(), &u)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrEmailTaken):
			t.Errorf("CreateUser(racer %d): err = %v, want nil or ErrEmailTaken", i, err)
		}
	}
	if won != 1 {
		t.Errorf("CreateUser: %d racers succeeded, want 1", won)
	}
}

func TestMigrateTwice(t *testing.T) {
	s := open(t, tempPath(t), sqlite.Options{})
	for i := range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate(#%d): err = %v, want nil", i+1, err)
		}
	}
	checkAllApplied(t, s)
}

// TestMigrateConcurrently migrates one file from two Stores at once, as two server
// processes starting together would.
func TestMigrateConcurrently(t *testing.T) {
	path := tempPath(t)
	stores := []*sqlite.Store{open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})}
	errs := make([]error, 2*len(stores))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = stores[i%len(stores)].Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate(#%d): err = %v, want nil", i+1, err)
		}
	}
	for _, s := range stores {
		checkAllApplied(t, s)
	}
}

func TestMigrationStatus(t *testing.T) {
	at := time.Date(2025, time.January, 2, 3, 4, 5, 0, time.UTC)
	s := open(t, tempPath(t), sqlite.Options{Now: func() time.Time { return at }})

	before, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus before Migrate: err = %v, want nil", err)
	}
	if len(before) == 0 {
		t.Fatalf("MigrationStatus before Migrate: no migrations, want at least 0001_init.sql")
	}
	for _, m := range before {
		if !m.Pending() {
			t.Errorf("MigrationStatus before Migrate: %s applied at %v, want pending", m.Name, m.AppliedAt)
		}
	}
	if before[0].Version != 1 || before[0].Name != "0001_init.sql" {
		t.Errorf("MigrationStatus: first = %d %q, want 1 %q", before[0].Version, before[0].Name, "0001_init.sql")
	}

	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	after, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus after Migrate: err = %v, want nil", err)
	}
	if len(after) != len(before) {
		t.Fatalf("MigrationStatus after Migrate: %d entries, want %d", len(after), len(before))
	}
	for _, m := range after {
		if !m.AppliedAt.Equal(at) {
			t.Errorf("MigrationStatus after Migrate: %s applied at %v, want %v", m.Name, m.AppliedAt, at)
		}
	}
}

// TestOpenSettings checks the pragmas that the concurrency argument rests on.
func TestOpenSettings(t *testing.T) {
	path := tempPath(t)
	open(t, path, sqlite.Options{})
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: err = %v, want nil", err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode: err = %v, want nil", err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want %q", mode, "wal")
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := tempPath(t)
	s := open(t, path, sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("Stat(%s): err = %v, want nil", filepath.Base(p), err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode of %s = %v, want -rw-------", filepath.Base(p), got)
		}
	}
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		if s, err := sqlite.Open(t.Context(), path, sqlite.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q): err = nil, want an error", path)
		}
	}
}

func TestOpenMissingDirectoryIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "sealauth.db")
	if s, err := sqlite.Open(t.Context(), path, sqlite.Options{}); !errors.Is(err, auth.ErrUnavailable) {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open(missing dir): err = %v, want ErrUnavailable", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := sqlite.Open(t.Context(), tempPath(t), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: err = %v, want nil", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: err = %v, want nil", err)
	}
	if _, err := s.UserByID(t.Context(), 1); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("UserByID after Close: err = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Ping after Close: err = %v, want ErrUnavailable", err)
	}
}

func checkAllApplied(t *testing.T, s *sqlite.Store) {
	t.Helper()
	st, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: err = %v, want nil", err)
	}
	if len(st) == 0 {
		t.Fatalf("MigrationStatus: no migrations, want at least one")
	}
	for _, m := range st {
		if m.Pending() {
			t.Errorf("MigrationStatus: %s pending, want applied", m.Name)
		}
	}
}

func TestSessions(t *testing.T) {
	authtest.TestSessions(t, func(t *testing.T) auth.Store {
		s := open(t, tempPath(t), sqlite.Options{})
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeys(t *testing.T) {
	authtest.TestKeys(t, func(t *testing.T) auth.Store {
		s := open(t, tempPath(t), sqlite.Options{})
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrations(t *testing.T) {
	authtest.TestMigrations(t, func(t *testing.T) func() authtest.Migrator {
		path := tempPath(t)
		return func() authtest.Migrator { return open(t, path, sqlite.Options{}) }
	})
}
