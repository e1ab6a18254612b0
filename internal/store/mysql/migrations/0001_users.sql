-- The users table, created here or adopted from the tutorial, which made it with:
--
--   CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100),
--     email VARCHAR(100) UNIQUE, password VARCHAR(255),
--     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)
--
-- Both start points must end in the same schema, and MySQL commits each DDL
-- statement on its own, so a failure can leave this file half applied: every
-- statement is therefore safe to run again, on either start point.
--
-- No row is rewritten and no column renamed: the tutorial's data stays where its
-- own code (and its operators' queries) expect it. Columns stay NULL-able because
-- tutorial rows may hold NULL names or times; the store reads NULL as "" or as the
-- zero time, and always writes values itself.

-- The store's connections run with time_zone '+00:00', so the TIMESTAMP values
-- below convert to DATETIME as UTC whatever the server's zone. Zero dates, which
-- a non-strict server may have let the tutorial store, must survive the
-- conversion instead of failing it: relax sql_mode for this file only.
SET @sealauth_sql_mode = @@SESSION.sql_mode;
SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';

CREATE TABLE IF NOT EXISTS users (
	id         INT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name       VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
	email      VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
	password   VARCHAR(255) NULL, -- bcrypt hash
	created_at DATETIME(6)  NULL, -- UTC
	CONSTRAINT email UNIQUE (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- On the tutorial's table (a no-op on the one above):
-- * utf8mb4, because names are any Unicode and older servers default to latin1
--   (MySQL converts the existing text, it does not reinterpret its bytes);
-- * email widened to the 254 characters an address may have; its collation is
--   case-insensitive, so the UNIQUE key refuses Bob@x.org beside bob@x.org and
--   lookups of the lower-cased address find rows the tutorial stored in mixed
--   case (it did not normalise). It is also accent-insensitive, which at worst
--   refuses a second address that differs only in accents;
-- * TIMESTAMP, which ends in 2038, becomes DATETIME(6) holding UTC;
-- * the table becomes InnoDB if an old server made it MyISAM, for transactions.
-- id stays the tutorial's INT: every existing id, and every token carrying one,
-- stays valid.
ALTER TABLE users
	ENGINE = InnoDB,
	DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci,
	MODIFY name       VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
	MODIFY email      VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
	MODIFY created_at DATETIME(6)  NULL;

-- Registration races are decided by a unique key on the whole email column. The
-- tutorial declared one; add it if a hand-edited table lost it. MySQL has no
-- ADD INDEX IF NOT EXISTS (MariaDB has), hence the prepared statement.
SET @sealauth_ddl = (
	SELECT IF(COUNT(*) > 0, 'DO 0', 'ALTER TABLE users ADD CONSTRAINT users_email_unique UNIQUE (email)')
	FROM information_schema.statistics s
	WHERE s.table_schema = DATABASE() AND s.table_name = 'users'
	  AND s.column_name = 'email' AND s.non_unique = 0 AND s.sub_part IS NULL
	  AND NOT EXISTS (
		SELECT 1 FROM information_schema.statistics o
		WHERE o.table_schema = s.table_schema AND o.table_name = s.table_name
		  AND o.index_name = s.index_name AND o.column_name <> 'email')
);
PREPARE sealauth_stmt FROM @sealauth_ddl;
EXECUTE sealauth_stmt;
DEALLOCATE PREPARE sealauth_stmt;

SET SESSION sql_mode = @sealauth_sql_mode;
