package mysql_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/store/mysql"
	"github.com/sealauth/sealauth/internal/store/mysql/mysqltest"
)

// BenchmarkLookups measures the queries of login (UserByEmail) and of the profile
// (UserByID) with 1,000 users and, with SEALAUTH_BENCH_1M=1, with 1,000,000: the
// unique key on email and the primary key keep their cost flat. It reports the
// median and 99th-percentile latency beside the mean. Seeding a million users
// takes a minute, so it is opt-in; benchmarks never run in `go test` without
// -bench anyway.
//
//	SEALAUTH_BENCH_1M=1 SEALAUTH_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' \
//	  go test -run '^$' -bench Lookups -benchtime 20000x ./internal/store/mysql/
func BenchmarkLookups(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			if n > 1_000 && os.Getenv("SEALAUTH_BENCH_1M") != "1" {
				b.Skip("set SEALAUTH_BENCH_1M=1 to seed 1,000,000 users")
			}
			url := mysqltest.NewDatabase(b, "")
			s, err := mysql.Open(b.Context(), url, mysql.Options{})
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
					_, err := s.UserByID(b.Context(), int64(i)+1)
					return err
				})
			})
		})
	}
}

// seed inserts users 0…n-1 (user<i>@example.com, id i+1) in batches that the
// server generates itself from a cross join of digits, all with one precomputed
// hash. The ids are explicit: AUTO_INCREMENT may leave gaps between the batches
// of an INSERT … SELECT.
func seed(b *testing.B, url string, n int) {
	b.Helper()
	const batch = 100_000 // five digits
	db := mysqltest.DB(b, url)
	start := time.Now()
	for off := 0; off < n; off += batch {
		if _, err := db.ExecContext(b.Context(), `
			INSERT INTO users (id, name, email, password, created_at)
			SELECT k + 1, CONCAT('User ', k), CONCAT('user', k, '@example.com'), ?, ?
			FROM (SELECT ? + d0.d + 10*d1.d + 100*d2.d + 1000*d3.d + 10000*d4.d AS k
			      FROM `+digits("d0")+`, `+digits("d1")+`, `+digits("d2")+`, `+digits("d3")+`, `+digits("d4")+`) seq
			WHERE k < ?
			ORDER BY k`,
			mysqltest.TutorialHash4, time.Now().UTC(), off, n); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	if _, err := db.ExecContext(b.Context(), "ANALYZE TABLE users"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users in %v", n, time.Since(start).Round(time.Millisecond))
}

func digits(alias string) string {
	return "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " +
		"UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) " + alias
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
