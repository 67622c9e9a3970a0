//! Credentials the store keeps: issued bearer tokens (only the SHA-256 of each secret, never the
//! secret) and members' ballot-signing keys. Every change to either is an audit entry, written
//! in the same transaction; the server decides what they mean (`services/server/src/auth.rs`).

/// An issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Assigned by the store ("tokens/{id}").
    pub id: i64,
    /// accord.v1.Role number (delegation or observer).
    pub role: i32,
    /// The member code of a delegation ("DEU"); empty otherwise.
    pub member: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// What it is for.
    pub label: String,
    /// Unix milliseconds.
    pub create_time_ms: i64,
    /// Unix milliseconds.
    pub expire_time_ms: i64,
    /// Unix milliseconds, once revoked.
    pub revoke_time_ms: Option<i64>,
}

/// A registered ballot key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotKeyRecord {
    /// The member code ("DEU").
    pub member: String,
    /// Raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Unix milliseconds.
    pub create_time_ms: i64,
}
