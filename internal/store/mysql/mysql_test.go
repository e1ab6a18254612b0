package mysql_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/auth/authtest"
	"github.com/sealauth/sealauth/internal/store/mysql"
	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
)

// open opens a Store on rawURL and closes it when the test ends.
func open(t *testing.T, rawURL string, opt mysql.Options) *mysql.Store {
	t.Helper()
	s, err := mysql.Open(t.Context(), rawURL, opt)
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
	s := open(t, mysqltest.NewDatabase(t, ""), mysql.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: err = %v, want nil", err)
	}
	return s
}

// TestStore runs the conformance suite, whose 50 concurrent registrations race on
// the unique key here.
func TestStore(t *testing.T) { authtest.TestStore(t, migrated) }

func TestSessions(t *testing.T) { authtest.TestSessions(t, migrated) }

func TestKeys(t *testing.T) { authtest.TestKeys(t, migrated) }

func TestMigrations(t *testing.T) {
	authtest.TestMigrations(t, func(t *testing.T) func() authtest.Migrator {
		url := mysqltest.NewDatabase(t, "")
		return func() authtest.Migrator { return open(t, url, mysql.Options{}) }
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url                          string
		user, pass, addr, db, tlsCfg string
	}{
		{url: "mysql://root@127.0.0.1:3306/sealauth", user: "root", addr: "127.0.0.1:3306", db: "sealauth"},
		{url: "mysql://app:s3cr%40t%2F@db.internal/python_rsa_auth", user: "app", pass: "s3cr@t/", addr: "db.internal:3306", db: "python_rsa_auth"},
		{url: "mysql://app:pw@[::1]:3307/x?tls=skip-verify", user: "app", pass: "pw", addr: "[::1]:3307", db: "x", tlsCfg: "skip-verify"},
	}
	for _, tt := range tests {
		cfg, err := mysql.ParseURL(tt.url)
		if err != nil {
			t.Errorf("ParseURL(%q): err = %v, want nil", tt.url, err)
			continue
		}
		if cfg.User != tt.user || cfg.Passwd != tt.pass || cfg.Net != "tcp" || cfg.Addr != tt.addr || cfg.DBName != tt.db || cfg.TLSConfig != tt.tlsCfg {
			t.Errorf("ParseURL(%q) = user %q pass %q net %q addr %q db %q tls %q, want %q %q tcp %q %q %q",
				tt.url, cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, cfg.TLSConfig, tt.user, tt.pass, tt.addr, tt.db, tt.tlsCfg)
		}
	}
}

func TestParseURLErrorsHideThePassword(t *testing.T) {
	const secret = "hunter2"
	for _, url := range []string{
		"mysql://root:" + secret + "%zz@127.0.0.1/db", // bad escape
		"mysql://root:" + secret + "@127.0.0.1:3306/", // no database
		"mysql://root:" + secret + "@/db",             // no host
		"mysql://:" + secret + "@127.0.0.1/db",        // no user
		"mysql://root:" + secret + "@127.0.0.1/db?parseTime=true",
		"mysql://root:" + secret + "@127.0.0.1/db?tls=maybe",
		"postgres://root:" + secret + "@127.0.0.1/db",
		"root:" + secret + "@tcp(127.0.0.1:3306)/db", // the driver's DSN form
	} {
		_, err := mysql.ParseURL(url)
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
	s, err := mysql.Open(t.Context(), "mysql://root@127.0.0.1:1/sealauth", mysql.Options{})
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
	s, err := mysql.Open(t.Context(), mysqltest.NewDatabase(t, ""), mysql.Options{})
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
// profile request makes: one row read through a unique key, whatever the number
// of users (BenchmarkLookups measures it with a million).
func TestLookupsUseIndexes(t *testing.T) {
	url := mysqltest.NewDatabase(t, "")
	if err := open(t, url, mysql.Options{}).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := mysqltest.DB(t, url)
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (name, email, password, created_at) VALUES
		('a', 'a@example.com', 'x', NOW()), ('b', 'b@example.com', 'x', NOW()), ('c', 'c@example.com', 'x', NOW())`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		args  []any
		key   string
	}{
		{query: mysql.QueryUserByEmail, args: []any{"b@example.com", "b@example.com"}, key: "email"},
		{query: mysql.QueryUserByID, args: []any{2}, key: "PRIMARY"},
	} {
		rows, err := db.QueryContext(t.Context(), "EXPLAIN "+tt.query, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan := map[string]string{}
			for i, c := range cols {
				plan[c] = vals[i].String
			}
			if plan["key"] != tt.key || (plan["type"] != "const" && plan["type"] != "eq_ref") {
				t.Errorf("EXPLAIN %s: type %q key %q, want a const look-up through %s", tt.query, plan["type"], plan["key"], tt.key)
			}
		}
		rows.Close()
	}
}
