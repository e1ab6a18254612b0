-- Times are INTEGER Unix microseconds in UTC: exact, compact, and they sort as
-- numbers. Microseconds match the precision of the MySQL and PostgreSQL backends.
-- Read one with: SELECT datetime(created_at / 1000000, 'unixepoch') FROM users;

-- Column names follow the MySQL users table of the original tutorial.
-- COLLATE NOCASE makes both the UNIQUE index and lookups case-insensitive
-- (ASCII only; emails arrive lower-cased anyway).
CREATE TABLE users (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL,
	email      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
	password   TEXT    NOT NULL, -- bcrypt hash
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE revoked_tokens (
	jti        TEXT    NOT NULL PRIMARY KEY,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- RevocationsSince scans by revoked_at and filters on expires_at from the index alone.
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at, expires_at);
-- PurgeRevocations deletes by expires_at.
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
