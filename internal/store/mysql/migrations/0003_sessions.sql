-- Sessions: one per login, with the family of refresh tokens rotated from it.
-- Identifiers are VARBINARY: compared byte for byte, whatever a client sends, and
-- never subject to a character set conversion that would bypass the index.
CREATE TABLE IF NOT EXISTS sessions (
	id           VARBINARY(255) NOT NULL PRIMARY KEY,
	user_id      INT            NOT NULL, -- the type of users.id
	created_at   DATETIME(6)    NOT NULL,
	last_used_at DATETIME(6)    NOT NULL,
	expires_at   DATETIME(6)    NOT NULL,
	user_agent   VARCHAR(256)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	ip           VARCHAR(255)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	revoked_at   DATETIME(6)    NULL, -- NULL while the session lives
	-- Sessions lists by user, newest first; the foreign key uses it too.
	INDEX sessions_user (user_id, created_at),
	-- PurgeSessions deletes by expires_at.
	INDEX sessions_expires_at (expires_at),
	CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Only the SHA-256 of a refresh token is stored; used_at is set when it is spent.
CREATE TABLE IF NOT EXISTS refresh_tokens (
	hash       VARBINARY(255) NOT NULL PRIMARY KEY,
	session_id VARBINARY(255) NOT NULL,
	created_at DATETIME(6)    NOT NULL,
	used_at    DATETIME(6)    NULL,
	INDEX refresh_tokens_session (session_id),
	CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB;
