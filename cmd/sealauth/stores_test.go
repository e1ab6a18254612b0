package main

import (
	"testing"

	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
	"github.com/sealauth/sealauth/internal/store/postgres/pgtest"
)

// forEachStore runs an end-to-end flow on every store: SQLite, and MariaDB and
// PostgreSQL in fresh databases (skipped locally without their test servers,
// required in CI). f gets the environment that selects the store.
func forEachStore(t *testing.T, f func(t *testing.T, db map[string]string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, nil) })
	t.Run("mariadb", func(t *testing.T) {
		f(t, map[string]string{"DATABASE_URL": mysqltest.NewDatabase(t, "")})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)})
	})
}

// with returns the union of environments, later ones winning.
func with(envs ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, e := range envs {
		for k, v := range e {
			out[k] = v
		}
	}
	return out
}
