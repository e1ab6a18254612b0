package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
	"github.com/sealauth/sealauth/internal/store/postgres/pgtest"
)

// engines are the backends that the command-level store tests run on: SQLite
// always, the server engines where their test server is configured.
var engines = []struct {
	name string
	url  func(t *testing.T) string // "" means the default SQLite file in the data dir
}{
	{name: "sqlite", url: func(*testing.T) string { return "" }},
	{name: "mariadb", url: func(t *testing.T) string { return mysqltest.NewDatabase(t, "") }},
	{name: "postgres", url: func(t *testing.T) string { return pgtest.NewDatabase(t) }},
}

var statusLine = regexp.MustCompile(`(?m)^  (\d{4}_\w+\.sql) +(pending|applied \S+)$`)

// TestMigrateCommand runs `sealauth migrate --status`, `sealauth migrate` (twice)
// and `--status` again on each engine.
func TestMigrateCommand(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			env := map[string]string{}
			if url := e.url(t); url != "" {
				env["DATABASE_URL"] = url
			}
			dir := t.TempDir()
			status := func(want string) int {
				t.Helper()
				out, errOut, err := runCmd(t, "", env, "migrate", "--data-dir", dir, "--status")
				if err != nil {
					t.Fatalf("migrate --status: %v; stderr %s", err, errOut)
				}
				lines := statusLine.FindAllStringSubmatch(out, -1)
				if len(lines) == 0 || strings.Count(out, "\n") != len(lines)+1 {
					t.Fatalf("migrate --status printed %q, want a heading and one line per migration", out)
				}
				for _, l := range lines {
					if !strings.HasPrefix(l[2], want) {
						t.Errorf("migrate --status: %s is %s, want %s", l[1], l[2], want)
					}
				}
				return len(lines)
			}

			n := status("pending")
			out, errOut, err := runCmd(t, "", env, "migrate", "--data-dir", dir)
			if err != nil {
				t.Fatalf("migrate: %v; stderr %s", err, errOut)
			}
			if !strings.HasPrefix(out, "applied ") || strings.Count(out, ".sql") != n {
				t.Errorf("migrate printed %q, want the %d migrations it applied", out, n)
			}
			out, errOut, err = runCmd(t, "", env, "migrate", "--data-dir", dir)
			if err != nil || !strings.HasSuffix(out, " is up to date\n") {
				t.Errorf("migrate again: %q, %v (stderr %s); want it up to date", out, err, errOut)
			}
			if got := status("applied"); got != n {
				t.Errorf("migrate --status after migrate: %d migrations, want %d", got, n)
			}
		})
	}
}

func TestMigrateCommandRejectsArguments(t *testing.T) {
	if _, _, err := runCmd(t, "", nil, "migrate", "--data-dir", t.TempDir(), "up"); err == nil || !strings.Contains(err.Error(), `"up"`) {
		t.Errorf("migrate up: err = %v, want one naming the unexpected argument", err)
	}
}

func TestPrepareSchema(t *testing.T) {
	open := func(t *testing.T, dir string) store {
		t.Helper()
		st, err := openStore(t.Context(), "sqlite:"+dir+"/sealauth.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	dir := t.TempDir()
	st := open(t, dir)
	if err := prepareSchema(t.Context(), st, false); err == nil || !strings.Contains(err.Error(), "sealauth migrate") {
		t.Errorf("prepareSchema(unmigrated, apply false): err = %v, want one asking for sealauth migrate", err)
	}
	if err := prepareSchema(t.Context(), st, true); err != nil {
		t.Fatalf("prepareSchema(apply true): err = %v", err)
	}
	if err := prepareSchema(t.Context(), open(t, dir), false); err != nil {
		t.Errorf("prepareSchema(migrated, apply false): err = %v, want nil", err)
	}
}
