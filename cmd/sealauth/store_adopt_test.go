package main

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sealauth/sealauth/internal/password"
	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
)

// tutorialUser is a row of the tutorial's users table, NULLs and all.
type tutorialUser struct {
	id        int64
	name      sql.NullString
	email     string
	password  string
	createdAt sql.NullTime
}

func tutorialUsers(t *testing.T, db *sql.DB) map[int64]tutorialUser {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT id, name, email, password, created_at FROM users")
	if err != nil {
		t.Fatalf("read users: %v", err)
	}
	defer rows.Close()
	out := map[int64]tutorialUser{}
	for rows.Next() {
		var u tutorialUser
		if err := rows.Scan(&u.id, &u.name, &u.email, &u.password, &u.createdAt); err != nil {
			t.Fatalf("read users: %v", err)
		}
		out[u.id] = u
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read users: %v", err)
	}
	return out
}

// TestAdoptTutorialDatabase points the real server at a MySQL database made by
// the tutorial, with users registered by it, and checks that the server migrates
// it in place and that every one of those users logs in with their old password.
func TestAdoptTutorialDatabase(t *testing.T) {
	tests := []struct {
		name string
		// env configures the server for the database at rawURL.
		env func(t *testing.T, rawURL string) map[string]string
	}{
		{
			// BCRYPT_COST 5 is above the cost of the $2b$04$ hashes, which logging in
			// therefore upgrades; the $2b$12$ ones stay.
			name: "DATABASE_URL",
			env: func(t *testing.T, rawURL string) map[string]string {
				return map[string]string{"DATABASE_URL": rawURL, "BCRYPT_COST": "5"}
			},
		},
		{
			// The tutorial's own .env names, with no DATABASE_URL.
			name: "DB_HOST, DB_USER, DB_PASSWORD, DB_NAME",
			env: func(t *testing.T, rawURL string) map[string]string {
				u, err := url.Parse(rawURL)
				if err != nil {
					t.Fatal(err)
				}
				pass, _ := u.User.Password()
				return map[string]string{"DB_HOST": u.Host, "DB_USER": u.User.Username(), "DB_PASSWORD": pass, "DB_NAME": strings.TrimPrefix(u.Path, "/")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rawURL := mysqltest.NewDatabase(t, "")
			db := mysqltest.DB(t, rawURL)
			if _, err := db.ExecContext(t.Context(), mysqltest.TutorialTable+`;
				INSERT INTO users (id, name, email, password, created_at) VALUES
					(1, 'Tutorial User', 'tutorial@example.com', '`+mysqltest.TutorialHash12+`', '2024-03-01 10:00:00'),
					(2, 'Mixed Case', 'Mixed.Case@Example.COM', '`+mysqltest.TutorialHash4+`', '2024-03-02 11:30:00'),
					(3, NULL, 'noname@example.com', '`+mysqltest.TutorialHash4+`', NULL),
					(5, 'Zoë', 'zoe@example.com', '`+mysqltest.TutorialHash12+`', DEFAULT)`); err != nil {
				t.Fatalf("create the tutorial's table: %v", err)
			}
			before := tutorialUsers(t, db)

			s := startServer(t, "", tt.env(t, rawURL))

			logins := []struct {
				email string // as the user types it
				id    int64
				name  string
			}{
				{email: "tutorial@example.com", id: 1, name: "Tutorial User"},
				{email: "mixed.case@example.com", id: 2, name: "Mixed Case"},
				{email: "MIXED.CASE@EXAMPLE.COM", id: 2, name: "Mixed Case"},
				{email: "noname@example.com", id: 3, name: ""},
				{email: "Zoe@Example.com", id: 5, name: "Zoë"},
			}
			for _, l := range logins {
				var out struct {
					User        map[string]any `json:"user"`
					AccessToken string         `json:"access_token"`
				}
				s.login(t, l.email, mysqltest.TutorialPassword).decode(t, http.StatusOK, &out)
				if out.User["id"] != float64(l.id) || out.User["name"] != l.name {
					t.Errorf("POST /login as %s: user = %v, want id %d name %q", l.email, out.User, l.id, l.name)
				}
				var prof map[string]any
				s.do(t, "GET", "/api/auth/profile", "", bearerHdr(out.AccessToken)).decode(t, http.StatusOK, &prof)
				if prof["id"] != float64(l.id) {
					t.Errorf("GET /profile as %s: id = %v, want %d", l.email, prof["id"], l.id)
				}
			}
			s.login(t, "tutorial@example.com", "not the tutorial password").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			s.register(t, "Copy", "Mixed.Case@example.com", goodPassword).wantProblem(t, http.StatusConflict, "email_taken")
			var reg struct {
				User struct {
					ID int64 `json:"id"`
				} `json:"user"`
			}
			s.register(t, "Newcomer", "new@example.com", goodPassword).decode(t, http.StatusCreated, &reg)
			if reg.User.ID <= 5 {
				t.Errorf("POST /register: id = %d, want one after the tutorial's ids", reg.User.ID)
			}
			s.loginToken(t, "new@example.com", goodPassword)

			after := tutorialUsers(t, db)
			if len(after) != len(before)+1 {
				t.Errorf("users after adoption: %d rows, want the tutorial's %d and the new one", len(after), len(before))
			}
			hasher, err := password.NewHasher(4)
			if err != nil {
				t.Fatal(err)
			}
			for id, b := range before {
				a, ok := after[id]
				switch {
				case !ok:
					t.Errorf("user %d is gone", id)
					continue
				case a.name != b.name || a.email != b.email || a.createdAt.Valid != b.createdAt.Valid || !a.createdAt.Time.Equal(b.createdAt.Time):
					t.Errorf("user %d = %+v after adoption, want %+v but for the hash", id, a, b)
				}
				// The hash may have been upgraded at login; it must still be the
				// user's password, in the tutorial's column.
				if a.password != b.password {
					if err := hasher.Compare(a.password, mysqltest.TutorialPassword); err != nil {
						t.Errorf("user %d: the upgraded hash does not match the password: %v", id, err)
					}
					t.Logf("user %d: hash upgraded from %.7s to %.7s", id, b.password, a.password)
				}
			}
			if tt.env(t, rawURL)["BCRYPT_COST"] == "5" {
				if after[2].password == before[2].password || after[1].password != before[1].password {
					t.Errorf("hashes after login at BCRYPT_COST 5: want the cost-4 one upgraded and the cost-12 one kept")
				}
			}
		})
	}
}
