-- Trust (issue 9): a hash-chained audit log that names who did what, issued bearer tokens
-- (stored only as their SHA-256) and members' ballot-signing keys.

-- Each audit entry carries who did it, the previous entry's hash and its own (see
-- accord_proto::canonical::audit_entry). Entries written before this migration are chained by
-- the store when it first opens the database (store_meta.audit_chain: 'unsealed' -> 'sealed');
-- after that an entry without a hash is a tampered entry.
ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
INSERT INTO store_meta (key, value) VALUES ('audit_chain', 'unsealed');

-- Bearer tokens issued by operators. accord.v1.Token; the secret itself is never stored.
CREATE TABLE tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    role           INTEGER NOT NULL,      -- accord.v1.Role
    member         TEXT NOT NULL,         -- member code for a delegation, '' otherwise
    secret_sha256  TEXT NOT NULL UNIQUE,  -- lower-case hex SHA-256 of the secret
    label          TEXT NOT NULL,
    create_time_ms INTEGER NOT NULL,
    expire_time_ms INTEGER NOT NULL,
    revoke_time_ms INTEGER
) STRICT;

-- Ballot-signing keys, every one ever registered; the latest of a member is its current key.
CREATE TABLE ballot_keys (
    sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
    member         TEXT NOT NULL,         -- member code
    public_key     BLOB NOT NULL,         -- raw 32-byte Ed25519 public key
    create_time_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX ballot_keys_member ON ballot_keys (member, sequence);
