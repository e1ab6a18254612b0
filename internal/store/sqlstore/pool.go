package sqlstore

import (
	"database/sql"
	"time"
)

// PoolOptions tune the connection pool and deadlines of a server database
// (MySQL, PostgreSQL); the zero value is usable. The defaults suit a 2-core
// machine: bcrypt, not the database, bounds the request rate there, and a
// query holds a connection for about a millisecond. Several instances together
// should stay well below the server's max_connections (MySQL 151, PostgreSQL
// 100 by default).
type PoolOptions struct {
	// MaxOpen caps the connections to the server. Default 10.
	MaxOpen int
	// MaxIdle is how many connections stay open between bursts. Default 5.
	MaxIdle int
	// ConnMaxLifetime replaces connections after this age, so that they follow
	// a failover, never meet MySQL's wait_timeout and release PostgreSQL's
	// per-connection caches. Default 30 minutes.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes connections idle this long. Default 5 minutes.
	ConnMaxIdleTime time.Duration
	// QueryTimeout bounds every query, on top of the caller's context,
	// including the wait for a free connection. Default 5s.
	QueryTimeout time.Duration
	// DialTimeout bounds opening a connection (PostgreSQL: unless the URL sets
	// connect_timeout), also when no query's context does (database/sql opens
	// some in the background). Default 5s.
	DialTimeout time.Duration
	// Now stamps applied migrations. Default time.Now.
	Now func() time.Time
}

// SetDefaults fills in the zero fields.
func (o *PoolOptions) SetDefaults() {
	if o.MaxOpen <= 0 {
		o.MaxOpen = 10
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 5
	}
	o.MaxIdle = min(o.MaxIdle, o.MaxOpen)
	if o.ConnMaxLifetime <= 0 {
		o.ConnMaxLifetime = 30 * time.Minute
	}
	if o.ConnMaxIdleTime <= 0 {
		o.ConnMaxIdleTime = 5 * time.Minute
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
}

// Apply sets the pool limits on db.
func (o *PoolOptions) Apply(db *sql.DB) {
	db.SetMaxOpenConns(o.MaxOpen)
	db.SetMaxIdleConns(o.MaxIdle)
	db.SetConnMaxLifetime(o.ConnMaxLifetime)
	db.SetConnMaxIdleTime(o.ConnMaxIdleTime)
}
