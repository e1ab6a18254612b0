package authtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/migrate"
)

// Migrator is a Store that applies its own embedded migrations, as every backend
// does.
type Migrator interface {
	auth.Store
	Migrate(ctx context.Context) error
	MigrationStatus(ctx context.Context) ([]migrate.Status, error)
}

// TestMigrations checks a backend's Migrate and MigrationStatus: on an empty
// database, twice in a row, and from several Stores at once, as server processes
// starting together would. newDB must create a fresh, empty database and return
// a function that opens a new, unmigrated Store on it, closed by t's cleanup;
// each call of that function opens another Store on the same database.
func TestMigrations(t *testing.T, newDB func(t *testing.T) (open func() Migrator)) {
	t.Helper()
	ctx := t.Context()

	t.Run("status lists every migration pending, then applied", func(t *testing.T) {
		s := newDB(t)()
		before, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatalf("MigrationStatus before Migrate: err = %v, want nil", err)
		}
		if len(before) == 0 || before[0].Version != 1 {
			t.Fatalf("MigrationStatus before Migrate = %+v, want migrations from version 1", before)
		}
		for i, m := range before {
			if !m.Pending() {
				t.Errorf("MigrationStatus before Migrate: %s applied at %v, want pending", m.Name, m.AppliedAt)
			}
			if i > 0 && m.Version <= before[i-1].Version {
				t.Errorf("MigrationStatus: %s after %s, want ascending versions", m.Name, before[i-1].Name)
			}
		}
		start := time.Now().Add(-time.Second)
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: err = %v, want nil", err)
		}
		after := checkAllApplied(t, s)
		if len(after) != len(before) {
			t.Fatalf("MigrationStatus after Migrate: %d entries, want %d", len(after), len(before))
		}
		for _, m := range after {
			if m.AppliedAt.Location() != time.UTC || m.AppliedAt.Before(start) || m.AppliedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("MigrationStatus: %s applied at %v, want about now, in UTC", m.Name, m.AppliedAt)
			}
		}
	})

	t.Run("Migrate twice", func(t *testing.T) {
		open := newDB(t)
		s := open()
		for i := range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate(#%d): err = %v, want nil", i+1, err)
			}
		}
		checkAllApplied(t, s)
		// And again from a Store opened afterwards, as at the next start.
		if err := open().Migrate(ctx); err != nil {
			t.Fatalf("Migrate(new Store): err = %v, want nil", err)
		}
		createUser(t, s, "after@example.com")
	})

	t.Run("several Stores migrate at once", func(t *testing.T) {
		open := newDB(t)
		stores := []Migrator{open(), open(), open()}
		errs := make([]error, len(stores))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				<-start
				errs[i] = s.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate(Store %d): err = %v, want nil", i, err)
			}
		}
		for _, s := range stores {
			checkAllApplied(t, s)
		}
		// One schema: a user written through one Store is read through another.
		u := createUser(t, stores[0], "shared@example.com")
		got, err := stores[len(stores)-1].UserByEmail(ctx, u.Email)
		if err != nil {
			t.Fatalf("UserByEmail through another Store: err = %v, want nil", err)
		}
		checkUser(t, "UserByEmail through another Store", got, u)
	})
}

// checkAllApplied wants every migration applied, and returns the status.
func checkAllApplied(t *testing.T, s Migrator) []migrate.Status {
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
	return st
}
