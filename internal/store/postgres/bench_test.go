package postgres_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/store/postgres"
	"github.com/sealauth/sealauth/internal/store/postgres/pgtest"
)

// seedHash is one precomputed bcrypt hash for every seeded user: hashing a
// million passwords would take days.
const seedHash = "$2b$04$Nwdsp0ZWJRRuSPk9jBa8b.vtjF4BomW0fd9q5S.HLdyE4VY6/Q4mi"

// BenchmarkLookups measures the queries of login (UserByEmail) and of the profile
// (UserByID) with 1,000 users and, with SEALAUTH_BENCH_1M=1, with 1,000,000: the
// unique index on lower(email) and the primary key keep their cost flat. It
// reports the median and 99th-percentile latency beside the mean. Seeding a
// million users takes a while, so it is opt-in; benchmarks never run in
// `go test` without -bench anyway.
//
//	SEALAUTH_BENCH_1M=1 SEALAUTH_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	  go test -run '^$' -bench Lookups -benchtime 20000x ./internal/store/postgres/
func BenchmarkLookups(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n > 1_000 && os.Getenv("SEALAUTH_BENCH_1M") != "1" {
				b.Skip("set SEALAUTH_BENCH_1M=1 to seed 1,000,000 users")
			}
			url := pgtest.NewDatabase(b)
			s, err := postgres.Open(b.Context(), url, postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			seed(b, url, n)

			b.Run("UserByEmail", func(b *testing.B) {
				lookups(b, n, func(i int) error {
					_, err := s.UserByEmail(b.Context(), fmt.Sprintf("user%d@example.com", i))
					return err
				})
			})
			b.Run("UserByID", func(b *testing.B) {
				lookups(b, n, func(i int) error {
					_, err := s.UserByID(b.Context(), int64(i)+1) // identity ids start at 1
					return err
				})
			})
		})
	}
}

// seed inserts users 0…n-1 (user<i>@example.com) in one statement that the
// server generates itself, all with one precomputed hash, then analyzes the table.
func seed(b *testing.B, url string, n int) {
	b.Helper()
	db := pgtest.DB(b, url)
	start := time.Now()
	if _, err := db.ExecContext(b.Context(), `
		INSERT INTO users (name, email, password, created_at)
		SELECT 'User ' || k, 'user' || k || '@example.com', $1, $2
		FROM generate_series(0, $3::int - 1) AS k
		ORDER BY k`,
		seedHash, time.Now().UTC(), n); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(b.Context(), "ANALYZE users"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users in %v", n, time.Since(start).Round(time.Millisecond))
}

// lookups runs find on users spread over the whole table, not a cached few, and
// reports latency percentiles.
func lookups(b *testing.B, n int, find func(i int) error) {
	b.ReportAllocs()
	const stride = 999_983 // a prime: i*stride mod n visits every user
	var took []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := find(i * stride % n); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		i++
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
