-- Revoked access tokens, kept until they expire. Times are DATETIME(6) in UTC.
-- jti is compared byte for byte, as the JWT's own string is.
CREATE TABLE IF NOT EXISTS revoked_tokens (
	jti        VARBINARY(255) NOT NULL PRIMARY KEY,
	expires_at DATETIME(6)    NOT NULL,
	revoked_at DATETIME(6)    NOT NULL,
	-- RevocationsSince scans by revoked_at and filters on expires_at from the index alone.
	INDEX revoked_tokens_revoked_at (revoked_at, expires_at),
	-- PurgeRevocations deletes by expires_at.
	INDEX revoked_tokens_expires_at (expires_at)
) ENGINE=InnoDB;
