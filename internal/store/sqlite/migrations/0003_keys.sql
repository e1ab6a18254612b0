-- Sealing and signing keys, shared by every instance. private_enc is the PKCS#8
-- private key encrypted with AES-256-GCM under the key-encryption key, never clear.
CREATE TABLE keys (
	id          TEXT    NOT NULL PRIMARY KEY,
	kind        TEXT    NOT NULL,
	alg         TEXT    NOT NULL,
	private_enc BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	retired_at  INTEGER
) STRICT, WITHOUT ROWID;
