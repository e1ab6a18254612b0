// Package mysql implements auth.Store on MySQL or MariaDB through
// github.com/go-sql-driver/mysql.
//
// It adopts the users table of the original tutorial in place (see
// migrations/0001_users.sql): same table, same column names, same ids. Times are
// DATETIME(6) holding UTC; every connection sets time_zone '+00:00' so that the
// server never converts them.
package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/store/migrate"
	"github.com/sealauth/sealauth/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateTimeout bounds Migrate. Adopting a large tutorial table copies it, which
// takes far longer than a query.
const migrateTimeout = 5 * time.Minute

// Options tune a Store; the zero value is usable (see sqlstore.PoolOptions).
type Options = sqlstore.PoolOptions

// Store is an auth.Store backed by a MySQL or MariaDB database.
type Store struct {
	*sqlstore.Store
	db         *sql.DB
	cfg        *mysql.Config // for the migration pool
	timeout    time.Duration
	migrations migrate.Runner
}

var _ auth.Store = (*Store)(nil)

// dialect is how MySQL differs from the other engines in the store's queries.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:      "mysql",
		ForUpdate: " FOR UPDATE",
		KeysTable: "`keys`",
		// Not INSERT IGNORE, which would also turn other errors into warnings.
		OnDuplicateJTI: "ON DUPLICATE KEY UPDATE jti = jti",
		UserByEmail: func(email string) (string, []any) {
			return queryUserByEmail, []any{email, email}
		},
		UserByID:    queryUserByID,
		Unavailable: unavailable,
		// users.id is never supplied, so the only unique key of users that can
		// clash is email's.
		EmailTaken: isDuplicate,
		KeyExists:  isDuplicate,
		// No Storable: the session ids, hashes and jtis are VARBINARY, which
		// takes any bytes.
		Text: text,
	}
}

// userColumns reads the tutorial's NULL-able columns as "" (and the zero time):
// only rows the tutorial wrote can hold NULLs.
const userColumns = "id, COALESCE(name, ''), COALESCE(email, ''), COALESCE(password, ''), created_at"

// The lookups of every login and profile request; a test checks that they use
// the unique key on email and the primary key. The column's collation finds the
// row through the unique key, but it also ignores accents, trailing spaces and
// some characters (NUL among them), so the lower-cased bytes must match too.
const (
	queryUserByEmail = "SELECT " + userColumns + " FROM users WHERE email = ? AND CAST(LOWER(email) AS BINARY) = CAST(LOWER(?) AS BINARY)"
	queryUserByID    = "SELECT " + userColumns + " FROM users WHERE id = ?"
)

// Open connects to the database named by rawURL, of the form
// mysql://user:password@host:port/database (port 3306 by default, password
// optional, percent-encoded if it has special characters). The only query
// parameter is tls: true, skip-verify, preferred or false (the default). Open
// checks that the server answers; it does not migrate: call Migrate.
func Open(ctx context.Context, rawURL string, opt Options) (*Store, error) {
	opt.SetDefaults()
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = opt.DialTimeout
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:        cfg,
		timeout:    opt.QueryTimeout,
		migrations: migrate.Runner{Migrations: ms, Lock: lock, Now: opt.Now},
	}
	if s.db, err = connect(cfg, false); err != nil {
		return nil, err
	}
	opt.Apply(s.db)
	s.Store = sqlstore.New(dialect(), s.db, s.db, s.timeout)
	// A bad address or password fails Open rather than the first request.
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", s.timeout, err)
		}
		return nil, errors.Join(s.Wrap("open", err), s.db.Close())
	}
	return s, nil
}

// ParseURL turns a mysql:// URL into the driver's configuration. Its errors
// never contain the password.
func ParseURL(rawURL string) (*mysql.Config, error) {
	const form = "want mysql://user:password@host:port/database"
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return nil, errors.New("mysql: not a valid URL (percent-encode special characters in the password); " + form)
	}
	if u.Scheme != "mysql" || u.Opaque != "" {
		return nil, fmt.Errorf("mysql: scheme %q; %s", u.Scheme, form)
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	if cfg.User == "" {
		return nil, errors.New("mysql: no user; " + form)
	}
	if u.Hostname() == "" {
		return nil, errors.New("mysql: no host; " + form)
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(u.Hostname(), port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return nil, errors.New("mysql: no database name; " + form)
	}
	for k, v := range u.Query() {
		switch {
		case k == "tls" && len(v) == 1 && (v[0] == "true" || v[0] == "false" || v[0] == "skip-verify" || v[0] == "preferred"):
			cfg.TLSConfig = v[0]
		case k == "tls":
			return nil, errors.New("mysql: tls must be true, false, skip-verify or preferred")
		default:
			return nil, fmt.Errorf("mysql: unknown URL parameter %q (the only one is tls)", k)
		}
	}
	return cfg, nil
}

// connect opens a pool on cfg with the session settings every query relies on.
// Only the migration pool allows several statements per query, so that no
// request's query could ever carry a second one.
func connect(cfg *mysql.Config, multiStatements bool) (*sql.DB, error) {
	cfg = cfg.Clone()
	cfg.Params = map[string]string{
		// DATETIME columns hold UTC, and the migration converts the tutorial's
		// TIMESTAMPs through the session zone.
		"time_zone": "'+00:00'",
		// Refuse over-long values rather than truncating them, whatever the
		// server's default; TRADITIONAL means the same on MySQL and MariaDB.
		"sql_mode": "'TRADITIONAL'",
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// UPDATE reports the rows it matched, not the rows it changed, so setting
	// the same hash twice is not mistaken for a missing user.
	cfg.ClientFoundRows = true
	// A server demoted to read-only by a failover drops the connection instead of
	// failing every write until ConnMaxLifetime.
	cfg.RejectReadOnly = true
	cfg.MultiStatements = multiStatements
	// One round trip per query instead of three (prepare, execute, close), which
	// more than halves the latency of the lookups every request makes. The
	// driver escapes the values itself, which is safe with the utf8mb4 connection
	// character set (it refuses to interpolate under unsafe ones such as GBK) and
	// follows the server's NO_BACKSLASH_ESCAPES.
	cfg.InterpolateParams = true
	// The driver would print connection trouble to stderr; the errors reach the
	// caller, which logs them once.
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return sql.OpenDB(c), nil
}

// Migrate applies the pending migrations. Concurrent calls, from this process or
// others, are safe: the runner holds a GET_LOCK lock named after the database.
func (s *Store) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	db, err := connect(s.cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := s.migrations.Up(ctx, db); err != nil {
		return s.Wrap("migrate", err)
	}
	return nil
}

// MigrationStatus lists the migrations this build knows, applied or pending, and
// any the database has that it does not know.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrate.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.migrations.Status(ctx, s.db)
	if err != nil {
		return nil, s.Wrap("migration status", err)
	}
	return st, nil
}

// lockName is the GET_LOCK name: locks are server-wide, so it names the
// database; names are limited to 64 characters.
const lockName = "LEFT(CONCAT('sealauth.migrate.', DATABASE()), 64)"

// lock takes the migration lock on conn, waiting for as long as ctx allows: the
// driver closes the connection when ctx ends, which abandons the wait.
func lock(ctx context.Context, conn *sql.Conn) (func(context.Context) error, error) {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+lockName+", ?)", int(migrateTimeout.Seconds())).Scan(&got); err != nil {
		return nil, err
	}
	if got.Int64 != 1 {
		return nil, errors.New("another process holds the migration lock")
	}
	return func(ctx context.Context) error {
		var released sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK("+lockName+")").Scan(&released); err != nil {
			return err
		}
		if released.Int64 != 1 {
			return errors.New("the migration lock was no longer held")
		}
		return nil
	}, nil
}

// unavailable reports whether err means the server could not be reached, did not
// answer in time or asked to be retried, as opposed to rejecting the query.
func unavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr): // dial and socket errors, refused, reset, timed out
		return true
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1040, // ER_CON_COUNT_ERROR: too many connections
		1053, // ER_SERVER_SHUTDOWN
		1205, // ER_LOCK_WAIT_TIMEOUT
		1213, // ER_LOCK_DEADLOCK
		1290, // ER_OPTION_PREVENTS_STATEMENT: read-only during a failover
		1317, // ER_QUERY_INTERRUPTED
		1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
		1927, // MariaDB ER_CONNECTION_KILLED
		1969, // MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
		3024, // MySQL ER_QUERY_TIMEOUT (max_execution_time)
		4031: // MySQL ER_CLIENT_INTERACTION_TIMEOUT
		return true
	}
	return false
}

// isDuplicate reports whether err is a duplicate-key error (ER_DUP_ENTRY).
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// text makes s storable in a utf8mb4 column: a User-Agent header may carry bytes
// that are not UTF-8, which strict mode would refuse with an error.
func text(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
