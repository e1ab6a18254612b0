package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sealauth/sealauth/internal/store/sqlite"
)

// seedStore writes users and revoked tokens straight into the embedded store
// of dataDir, before the server starts: registering a million users through
// the API would take days of bcrypt. All seeded users share one hash (of a
// password nobody uses), which is all a look-up by email or id touches.
func seedStore(ctx context.Context, dataDir string, users, revoked int) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dataDir, "sealauth.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.MinCost)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if err := insertBatches(ctx, db, users, "INSERT INTO users (name, email, password, created_at) VALUES (?, ?, ?, ?)",
		func(i int) []any {
			return []any{fmt.Sprintf("Seed %d", i), fmt.Sprintf("seed%08d@seed.example", i), string(hash), now.UnixMicro()}
		}); err != nil {
		return err
	}
	return insertBatches(ctx, db, revoked, "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)",
		func(int) []any { return []any{rand.Text(), now.Add(time.Hour).UnixMicro(), now.UnixMicro()} })
}

// insertBatches runs one prepared insert n times, committing every 50,000 rows.
func insertBatches(ctx context.Context, db *sql.DB, n int, query string, row func(int) []any) error {
	const batch = 50_000
	for start := 0; start < n; start += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, query)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		for i := start; i < min(start+batch, n); i++ {
			if _, err := stmt.ExecContext(ctx, row(i)...); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
