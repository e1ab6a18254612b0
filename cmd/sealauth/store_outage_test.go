package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
	"github.com/sealauth/sealauth/internal/store/postgres/pgtest"
)

// outageDB is a private database server that the outage test stops and freezes.
type outageDB interface {
	URL() string
	Stop()   // at once, as in a crash
	Start()  // again, waiting until it answers
	Freeze() // SIGSTOP: connections stay open, nothing answers
	Thaw()
}

// outageQueryTimeout is the server's per-query timeout in the outage test, short
// so that the test is quick; unavailableBound is the generous bound within which
// every request must have been answered.
const (
	outageQueryTimeout = 2 * time.Second
	unavailableBound   = 15 * time.Second
	recoveryBound      = 10 * time.Second
)

// TestOutage runs the real server on a private database server, then freezes the
// database (a hung host) and stops it (a crash): requests that need it must
// answer 503 service_unavailable with Retry-After within a bounded time and never
// 500, /readyz must turn 503, and once the database is back the service must
// recover by itself with every acknowledged write intact and nothing half written.
func TestOutage(t *testing.T) {
	engines := []struct {
		name  string
		start func(t *testing.T) outageDB
		db    func(t *testing.T, rawURL string) *sql.DB
	}{
		{
			name:  "postgres",
			start: func(t *testing.T) outageDB { return pgtest.StartServer(t) },
			db:    func(t *testing.T, u string) *sql.DB { return pgtest.DB(t, u) },
		},
		{
			name:  "mariadb",
			start: func(t *testing.T) outageDB { return mysqltest.StartServer(t) },
			db:    func(t *testing.T, u string) *sql.DB { return mysqltest.DB(t, u) },
		},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			db := e.start(t)
			sep := "?"
			if strings.Contains(db.URL(), "?") {
				sep = "&"
			}
			s := startServer(t, "", map[string]string{
				"DATABASE_URL": db.URL() + sep + fmt.Sprintf("query_timeout=%s&max_open_conns=4", outageQueryTimeout),
			})

			// Writes acknowledged before the outage.
			var acked []string
			for i := range 3 {
				email := fmt.Sprintf("before-%d@example.com", i)
				s.register(t, "Before", email, goodPassword).decode(t, http.StatusCreated, &map[string]any{})
				acked = append(acked, email)
			}
			token := s.loginToken(t, acked[0], goodPassword)
			revoked := s.loginToken(t, acked[1], goodPassword)
			s.do(t, "POST", "/api/auth/logout", "", bearerHdr(revoked)).decode(t, http.StatusOK, &map[string]any{})

			phases := []struct {
				name     string
				down, up func()
			}{
				{name: "frozen", down: db.Freeze, up: db.Thaw},
				{name: "stopped", down: db.Stop, up: db.Start},
			}
			for _, ph := range phases {
				spare := s.loginToken(t, acked[2], goodPassword)
				// Profile may answer from memory for this long; past it, it needs the
				// database like every other request below.
				time.Sleep(auth.ProfileCacheTTL)
				ph.down()
				refused := checkUnavailable(t, s, ph.name, acked[0], token, spare)
				ph.up()
				waitRecovered(t, s, ph.name)
				// A refused write may still have reached the database: a frozen server
				// runs the statements in its socket buffer once it resumes, after the
				// client gave up. So the refused logout either happened or not, and
				// retrying it, as a 503 asks, completes it either way.
				switch r := s.do(t, "POST", "/api/auth/logout", "", bearerHdr(spare)); r.status {
				case http.StatusOK:
				case http.StatusUnauthorized:
					t.Logf("%s: the logout refused during the outage was applied when the database resumed", ph.name)
				default:
					t.Errorf("%s: POST /logout retried: status = %d, want 200 or 401; body %s", ph.name, r.status, r.body)
				}
				s.do(t, "GET", "/api/auth/profile", "", bearerHdr(spare)).wantProblem(t, http.StatusUnauthorized, "invalid_token")

				for _, email := range acked {
					s.loginToken(t, email, goodPassword)
				}
				s.do(t, "GET", "/api/auth/profile", "", bearerHdr(revoked)).wantProblem(t, http.StatusUnauthorized, "invalid_token")
				// The registration refused during the outage left nothing behind.
				s.register(t, "After", refused, goodPassword).decode(t, http.StatusCreated, &map[string]any{})
				acked = append(acked, refused)
				token = s.loginToken(t, acked[0], goodPassword)
			}

			// Straight from the database: exactly the acknowledged users, each whole,
			// and no session without its refresh token.
			conn := e.db(t, db.URL())
			var users, broken, orphans int
			if err := conn.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM users").Scan(&users); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM users WHERE name = '' OR email = '' OR password NOT LIKE '$2%' OR created_at IS NULL").Scan(&broken); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)").Scan(&orphans); err != nil {
				t.Fatal(err)
			}
			if users != len(acked) || broken != 0 || orphans != 0 {
				t.Errorf("after the outages: %d users (%d half written), %d sessions without a refresh token; want %d, 0, 0",
					users, broken, orphans, len(acked))
			}
			if n := strings.Count(s.Log.String(), `"status":500`); n > 0 {
				t.Errorf("the server logged %d responses with status 500", n)
			}
		})
	}
}

// checkUnavailable sends every kind of request that needs the database while it
// is down, concurrently, and checks each answer; requests that do not need it
// must still succeed. It returns the email whose registration was refused.
func checkUnavailable(t *testing.T, s *testServer, phase, email, token, spare string) string {
	t.Helper()
	for _, path := range []string{"/healthz", "/api/auth/public-key"} {
		if r := s.do(t, "GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("%s: GET %s: status = %d, want 200: it needs no database", phase, path, r.status)
		}
	}
	refused := "during-" + phase + "@example.com"
	reqs := []struct {
		name string
		send func() response
	}{
		{name: "POST /register", send: func() response { return s.register(t, "During", refused, goodPassword) }},
		{name: "POST /login", send: func() response { return s.login(t, email, goodPassword) }},
		{name: "GET /profile", send: func() response { return s.do(t, "GET", "/api/auth/profile", "", bearerHdr(token)) }},
		{name: "POST /logout", send: func() response { return s.do(t, "POST", "/api/auth/logout", "", bearerHdr(spare)) }},
		{name: "GET /readyz", send: func() response { return s.do(t, "GET", "/readyz", "", nil) }},
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			// Twice: the second request meets the connections the first one broke.
			for i := range 2 {
				start := time.Now()
				resp := r.send()
				d := time.Since(start)
				t.Logf("%s: %s #%d answered %d in %v", phase, r.name, i+1, resp.status, d.Round(time.Millisecond))
				if d > unavailableBound {
					t.Errorf("%s: %s took %v, want at most %v", phase, r.name, d, unavailableBound)
				}
				if resp.status != http.StatusServiceUnavailable {
					t.Errorf("%s: %s: status = %d, want 503; body %s", phase, r.name, resp.status, resp.body)
					continue
				}
				if resp.header.Get("Retry-After") == "" {
					t.Errorf("%s: %s: no Retry-After header", phase, r.name)
				}
				resp.wantProblem(t, http.StatusServiceUnavailable, "service_unavailable")
			}
		})
	}
	wg.Wait()
	return refused
}

// waitRecovered polls /readyz until it answers 200, which must happen within
// recoveryBound of the database answering again, and never with a 500.
func waitRecovered(t *testing.T, s *testServer, phase string) {
	t.Helper()
	start := time.Now()
	for {
		resp := s.do(t, "GET", "/readyz", "", nil)
		switch resp.status {
		case http.StatusOK:
			t.Logf("%s: recovered %v after the database returned", phase, time.Since(start).Round(time.Millisecond))
			return
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("%s: GET /readyz while recovering: status = %d; body %s", phase, resp.status, resp.body)
		}
		if time.Since(start) > recoveryBound {
			t.Fatalf("%s: GET /readyz still 503 %v after the database returned", phase, recoveryBound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
