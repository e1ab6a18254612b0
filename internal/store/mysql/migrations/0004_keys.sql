-- Sealing and signing keys, shared by every instance. private_enc is the PKCS#8
-- private key encrypted with AES-256-GCM under the key-encryption key, never clear.
-- KEYS is a reserved word in MySQL, hence the backquotes wherever the table is named.
CREATE TABLE IF NOT EXISTS `keys` (
	id          VARBINARY(255) NOT NULL PRIMARY KEY,
	kind        VARCHAR(32)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	alg         VARCHAR(32)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	private_enc BLOB           NOT NULL,
	created_at  DATETIME(6)    NOT NULL,
	retired_at  DATETIME(6)    NULL
) ENGINE=InnoDB;
