package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/store/migrate"
	"github.com/sealauth/sealauth/internal/store/mysql"
	"github.com/sealauth/sealauth/internal/store/postgres"
	"github.com/sealauth/sealauth/internal/store/sqlite"
)

// store is what the commands need of a backend beyond auth.Store.
type store interface {
	auth.Store
	Migrate(ctx context.Context) error
	MigrationStatus(ctx context.Context) ([]migrate.Status, error)
}

// openTimeout bounds connecting at start. A server that cannot reach its
// database says so and exits, and whatever supervises it restarts it, rather
// than hanging with no listener and no message.
const openTimeout = 10 * time.Second

// openStore picks the backend by the URL's scheme: sqlite:PATH, mysql://… or
// postgres://… (postgresql://…). Its errors are one line that names the setting
// and the URL tried, without the password.
func openStore(ctx context.Context, rawURL string) (store, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	scheme, _, _ := strings.Cut(rawURL, ":")
	scheme = strings.ToLower(scheme)
	s, err := openScheme(ctx, scheme, rawURL)
	if err != nil {
		setting := "DATABASE_URL"
		if scheme == "mysql" {
			setting = "DATABASE_URL, or DB_HOST, DB_USER, DB_PASSWORD and DB_NAME"
		}
		return nil, oneLine{fmt.Errorf("database %s (from %s): %w", config.RedactURL(rawURL), setting, err)}
	}
	return s, nil
}

func openScheme(ctx context.Context, scheme, rawURL string) (store, error) {
	switch scheme {
	case "sqlite":
		path := strings.TrimPrefix(rawURL[len(scheme)+1:], "//")
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "mysql":
		u, p, err := splitPoolParams(rawURL)
		if err != nil {
			return nil, err
		}
		s, err := mysql.Open(ctx, u, mysql.Options{MaxOpen: p.maxOpen, MaxIdle: p.maxIdle,
			ConnMaxLifetime: p.maxLifetime, ConnMaxIdleTime: p.maxIdleTime, QueryTimeout: p.queryTimeout})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres", "postgresql":
		u, p, err := splitPoolParams(rawURL)
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, u, postgres.Options{MaxOpen: p.maxOpen, MaxIdle: p.maxIdle,
			ConnMaxLifetime: p.maxLifetime, ConnMaxIdleTime: p.maxIdleTime, QueryTimeout: p.queryTimeout})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, errors.New("unsupported scheme; use sqlite:PATH, mysql://user:password@host:3306/database or postgres://user:password@host:5432/database")
	}
}

// pool holds the DATABASE_URL query parameters that tune a server engine's pool;
// zero means the store's default.
type pool struct {
	maxOpen, maxIdle                       int
	maxLifetime, maxIdleTime, queryTimeout time.Duration
}

// splitPoolParams takes the pool parameters out of a mysql:// or postgres://
// URL, leaving the rest for the driver:
//
//	max_open_conns=10  max_idle_conns=5  conn_max_lifetime=30m  conn_max_idle_time=5m  query_timeout=5s
func splitPoolParams(rawURL string) (string, pool, error) {
	var p pool
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return "", p, errors.New("not a valid URL (percent-encode special characters in the password)")
	}
	q := u.Query()
	ints := map[string]*int{"max_open_conns": &p.maxOpen, "max_idle_conns": &p.maxIdle}
	durations := map[string]*time.Duration{"conn_max_lifetime": &p.maxLifetime, "conn_max_idle_time": &p.maxIdleTime, "query_timeout": &p.queryTimeout}
	found := false
	for k, dst := range ints {
		if !q.Has(k) {
			continue
		}
		n, err := strconv.Atoi(q.Get(k))
		if err != nil || n < 1 {
			return "", p, fmt.Errorf("%s must be a whole number of at least 1, got %q", k, q.Get(k))
		}
		*dst, found = n, true
		q.Del(k)
	}
	for k, dst := range durations {
		if !q.Has(k) {
			continue
		}
		d, err := time.ParseDuration(q.Get(k))
		if err != nil || d <= 0 {
			return "", p, fmt.Errorf("%s must be a positive duration such as 5s or 30m, got %q", k, q.Get(k))
		}
		*dst, found = d, true
		q.Del(k)
	}
	if !found {
		return rawURL, p, nil
	}
	u.RawQuery = q.Encode()
	return u.String(), p, nil
}

// oneLine keeps an error on one line, as the command's whole output: drivers
// put a line per host tried into some messages.
type oneLine struct{ err error }

func (e oneLine) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }

func (e oneLine) Unwrap() error { return e.err }
