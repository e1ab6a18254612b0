-- Sessions: one per login, with the family of refresh tokens rotated from it.
CREATE TABLE sessions (
	id           TEXT        NOT NULL PRIMARY KEY,
	user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   TIMESTAMPTZ NOT NULL,
	last_used_at TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	user_agent   TEXT        NOT NULL,
	ip           TEXT        NOT NULL,
	revoked_at   TIMESTAMPTZ           -- NULL while the session lives
);

-- Sessions lists by user, newest first; the foreign key's cascade uses it too.
CREATE INDEX sessions_user ON sessions (user_id, created_at);
-- PurgeSessions deletes by expires_at.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Only the SHA-256 of a refresh token is stored; used_at is set when it is spent.
CREATE TABLE refresh_tokens (
	hash       TEXT        NOT NULL PRIMARY KEY,
	session_id TEXT        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	created_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
