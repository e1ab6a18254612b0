package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/store/migrate"
)

// migrateCmd applies the pending migrations to the configured database, or with
// --status lists every migration and whether it is applied. It reads the same
// settings as serve, so DATABASE_URL (or the tutorial's DB_* variables) picks
// the database.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var status bool
	cfg, err := config.Load("migrate", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&status, "status", false, "list the migrations and whether each is applied; change nothing")
	})
	if err != nil {
		return err
	}
	if len(cfg.Args) > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", cfg.Args[0])
	}
	if strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		// The default SQLite file lives in the data dir, which serve would create.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil { // #nosec G703 -- the operator's own configured path
			return fmt.Errorf("data dir: %w", err)
		}
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	where := config.RedactURL(cfg.DatabaseURL)

	before, err := st.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migration status of %s: %w", where, err)
	}
	if status {
		return printStatus(stdout, where, before)
	}
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", where, err)
	}
	var applied []string
	for _, m := range before {
		if m.Pending() {
			applied = append(applied, m.Name)
		}
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s is up to date\n", where)
		return nil
	}
	fmt.Fprintf(stdout, "applied %d migration(s) to %s: %s\n", len(applied), where, strings.Join(applied, ", "))
	return nil
}

// printStatus lists migrations as a table: name, then "applied <time>" or
// "pending"; versions this build does not know (a newer build applied them) are
// marked so.
func printStatus(w io.Writer, where string, st []migrate.Status) error {
	fmt.Fprintf(w, "migrations of %s:\n", where)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range st {
		state := "pending"
		if !m.Pending() {
			state = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
		}
		if m.Unknown {
			state += " (unknown to this build: a newer one applied it)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", m.Name, state)
	}
	return tw.Flush()
}

// prepareSchema readies st's schema at start: it applies the pending migrations,
// or with apply false (serve told not to migrate, because deployments run
// `sealauth migrate` as a step of their own) refuses to run on a schema that
// lacks some.
func prepareSchema(ctx context.Context, st store, apply bool) error {
	if apply {
		return st.Migrate(ctx)
	}
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	var pending []string
	for _, m := range status {
		if m.Pending() {
			pending = append(pending, m.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d migration(s) pending (%s); run `sealauth migrate` first", len(pending), strings.Join(pending, ", "))
	}
	return nil
}
