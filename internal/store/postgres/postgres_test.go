package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/auth/authtest"
	"github.com/sealauth/sealauth/internal/store/postgres"
	"github.com/sealauth/sealauth/internal/store/postgres/pgtest"
)

// open opens a Store on rawURL and closes it when the test ends.
func open(t *testing.T, rawURL string, opt postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), rawURL, opt)
	if err != nil {
		t.Fatalf("Open: err = %v, want nil", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: err = %v, want nil", err)
		}
	})
	return s
}

// migrated opens a Store on a fresh database and migrates it.
func migrated(t *testing.T) auth.Store {
	t.Helper()
	s := open(t, pgtest.NewDatabase(t), postgres.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	return s
}

// TestStore runs the conformance suite, whose 50 concurrent registrations race on
// the unique index here.
func TestStore(t *testing.T) { authtest.TestStore(t, migrated) }

func TestSessions(t *testing.T) { authtest.TestSessions(t, migrated) }

func TestKeys(t *testing.T) { authtest.TestKeys(t, migrated) }

func TestMigrations(t *testing.T) {
	authtest.TestMigrations(t, func(t *testing.T) func() authtest.Migrator {
		url := pgtest.NewDatabase(t)
		return func() authtest.Migrator { return open(t, url, postgres.Options{}) }
	})
}

func TestParseURL(t *testing.T) {
	for _, url := range []string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"postgresql://app:s3cr%40t@db.internal/sealauth",
	} {
		cfg, err := postgres.ParseURL(url)
		if err != nil {
			t.Errorf("ParseURL(%q): err = %v, want nil", url, err)
			continue
		}
		if cfg.Database == "" || cfg.User == "" {
			t.Errorf("ParseURL(%q): database %q user %q, want both", url, cfg.Database, cfg.User)
		}
	}
	if cfg, err := postgres.ParseURL("postgresql://app:s3cr%40t@db.internal/sealauth"); err == nil && cfg.Password != "s3cr@t" {
		t.Errorf("ParseURL: password not percent-decoded")
	}
}

func TestParseURLErrorsHideThePassword(t *testing.T) {
	const secret = "hunter2"
	for _, url := range []string{
		"postgres://root:" + secret + "%zz@127.0.0.1/db",
		"postgres://root:" + secret + "@127.0.0.1:notaport/db",
		"postgres://root:" + secret + "@127.0.0.1/db?sslmode=sometimes",
		"mysql://root:" + secret + "@127.0.0.1/db",
		"host=127.0.0.1 password=" + secret,
	} {
		_, err := postgres.ParseURL(url)
		if err == nil {
			t.Errorf("ParseURL(%q): err = nil, want an error", url)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL: error %q shows the password", err)
		}
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	start := time.Now()
	// Port 1 on loopback: nothing listens there, so the dial is refused at once.
	s, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open(nothing listening): err = nil, want an error")
	}
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Open(nothing listening): err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open(nothing listening) took %v, want it bounded by the timeouts", d)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t), postgres.Options{})
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
}

// TestLookupsUseIndexes checks the plans of the lookups that every login and
// profile request makes: an index scan of the unique index on lower(email) and
// of the primary key, whatever the number of users (BenchmarkLookups measures it
// with a million).
func TestLookupsUseIndexes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	if err := open(t, url, postgres.Options{}).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := pgtest.DB(t, url)
	// Enough rows that a sequential scan would cost more than the index.
	if _, err := db.ExecContext(t.Context(), `
		INSERT INTO users (name, email, password, created_at)
		SELECT 'u', 'user' || k || '@example.com', 'x', now() FROM generate_series(1, 5000) AS k;
		ANALYZE users`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query, arg, index string
	}{
		{query: postgres.QueryUserByEmail, arg: "User42@Example.com", index: "users_email_lower"},
		{query: postgres.QueryUserByID, arg: "42", index: "users_pkey"},
	} {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN "+tt.query, tt.arg)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if !strings.Contains(plan[0], "Index Scan using "+tt.index) {
			t.Errorf("EXPLAIN %s:\n%s\nwant an index scan using %s", tt.query, strings.Join(plan, "\n"), tt.index)
		}
	}
}
