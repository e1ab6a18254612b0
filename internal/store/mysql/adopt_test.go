package mysql_test

import (
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/mysql"
	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
)

// tutorialRow is a users row as stored, NULLs and all.
type tutorialRow struct {
	ID        int64
	Name      sql.NullString
	Email     sql.NullString
	Password  sql.NullString
	CreatedAt sql.NullTime
}

func readRows(t *testing.T, db *sql.DB) []tutorialRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT id, name, email, password, created_at FROM users ORDER BY id")
	if err != nil {
		t.Fatalf("read users: %v", err)
	}
	defer rows.Close()
	var out []tutorialRow
	for rows.Next() {
		var r tutorialRow
		if err := rows.Scan(&r.ID, &r.Name, &r.Email, &r.Password, &r.CreatedAt); err != nil {
			t.Fatalf("read users: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read users: %v", err)
	}
	return out
}

func columnNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(),
		"SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// TestAdoptTutorialTable migrates the tutorial's users table in place: every row
// keeps its id, name, email, hash and creation time, in the tutorial's columns,
// and the store then reads and extends it.
func TestAdoptTutorialTable(t *testing.T) {
	for _, tt := range []struct{ name, charset string }{
		{name: "server default character set"},
		// Old MySQL and MariaDB servers created tables in latin1.
		{name: "latin1", charset: "CHARACTER SET latin1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := mysqltest.NewDatabase(t, tt.charset)
			db := mysqltest.DB(t, url)
			// Times inserted from a session in another zone: a TIMESTAMP keeps the
			// instant, which the conversion to DATETIME(6) must keep too.
			fixture := `
				SET time_zone = '+05:00';
				INSERT INTO users (id, name, email, password, created_at) VALUES
					(1, 'Tutorial User', 'tutorial@example.com', '` + mysqltest.TutorialHash12 + `', '2024-03-01 10:00:00'),
					(2, 'Mixed Case', 'Mixed.Case@Example.COM', '` + mysqltest.TutorialHash4 + `', '2024-03-02 11:30:00'),
					(3, NULL, 'noname@example.com', '` + mysqltest.TutorialHash12 + `', NULL),
					(7, 'Zoë', 'zoe@example.com', '` + mysqltest.TutorialHash4 + `', DEFAULT);
				-- A zero date, as a non-strict server lets an invalid time become.
				SET sql_mode = '';
				INSERT INTO users (id, name, email, password, created_at) VALUES
					(8, 'Zero Date', 'zero@example.com', '` + mysqltest.TutorialHash4 + `', '0000-00-00 00:00:00');
				SET time_zone = '+00:00';`
			if _, err := db.ExecContext(t.Context(), mysqltest.TutorialTable+";"+fixture); err != nil {
				t.Fatalf("create the tutorial's table: %v", err)
			}
			before := readRows(t, db)
			if !before[0].CreatedAt.Time.Equal(time.Date(2024, time.March, 1, 5, 0, 0, 0, time.UTC)) {
				t.Fatalf("fixture: created_at of row 1 = %v, want 05:00 UTC", before[0].CreatedAt.Time)
			}

			s := open(t, url, mysql.Options{})
			for i := range 2 {
				if err := s.Migrate(t.Context()); err != nil {
					t.Fatalf("Migrate(#%d): err = %v, want nil", i+1, err)
				}
			}

			after := readRows(t, db)
			if len(after) != len(before) {
				t.Fatalf("rows after Migrate: %d, want %d", len(after), len(before))
			}
			for i := range before {
				b, a := before[i], after[i]
				if a.ID != b.ID || a.Name != b.Name || a.Email != b.Email || a.Password != b.Password ||
					a.CreatedAt.Valid != b.CreatedAt.Valid || !a.CreatedAt.Time.Equal(b.CreatedAt.Time) {
					t.Errorf("row %d after Migrate = %+v, want %+v", b.ID, a, b)
				}
			}
			if got, want := columnNames(t, db), []string{"id", "name", "email", "password", "created_at"}; !slices.Equal(got, want) {
				t.Errorf("users columns = %v, want the tutorial's %v", got, want)
			}

			ctx := t.Context()
			u, err := s.UserByEmail(ctx, "mixed.case@example.com")
			if err != nil || u.ID != 2 || u.Email != "Mixed.Case@Example.COM" || u.Name != "Mixed Case" || u.PasswordHash != mysqltest.TutorialHash4 {
				t.Errorf("UserByEmail(lower-cased tutorial email) = %+v, %v; want row 2 as stored", u, err)
			}
			if !u.CreatedAt.Equal(time.Date(2024, time.March, 2, 6, 30, 0, 0, time.UTC)) || u.CreatedAt.Location() != time.UTC {
				t.Errorf("UserByEmail: CreatedAt = %v, want 2024-03-02 06:30 UTC", u.CreatedAt)
			}
			for _, id := range []int64{3, 8} { // NULL name and time; zero date
				u, err := s.UserByID(ctx, id)
				if err != nil {
					t.Errorf("UserByID(%d): err = %v, want nil", id, err)
				}
				if id == 3 && (u.Name != "" || !u.CreatedAt.IsZero()) {
					t.Errorf("UserByID(3) = %+v, want the NULLs read as \"\" and the zero time", u)
				}
			}
			if u, err := s.UserByID(ctx, 7); err != nil || u.Name != "Zoë" {
				t.Errorf("UserByID(7): name %q, err = %v; want Zoë", u.Name, err)
			}

			dup := auth.User{Name: "Copy", Email: "mixed.case@example.com", PasswordHash: mysqltest.TutorialHash4, CreatedAt: time.Now()}
			if err := s.CreateUser(ctx, &dup); !errors.Is(err, auth.ErrEmailTaken) {
				t.Errorf("CreateUser(a tutorial email, lower-cased): err = %v, want ErrEmailTaken", err)
			}
			nu := auth.User{Name: "New 🦊", Email: "new@example.com", PasswordHash: mysqltest.TutorialHash4, CreatedAt: time.Now()}
			if err := s.CreateUser(ctx, &nu); err != nil || nu.ID <= 8 {
				t.Errorf("CreateUser(new) = ID %d, err = %v; want an ID after the tutorial's", nu.ID, err)
			}
			if err := s.SetPasswordHash(ctx, 1, mysqltest.TutorialHash4); err != nil {
				t.Errorf("SetPasswordHash(tutorial row): err = %v", err)
			}
		})
	}
}
