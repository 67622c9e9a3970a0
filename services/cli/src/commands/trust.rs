//! `accord delegations`, `accord keys` and `accord audit`: issuing and revoking tokens,
//! ballot-signing keys, and verifying the tamper-evident audit log (offline or through the
//! server). See docs/security.md.

use std::path::Path;

use accord_proto::names::MEMBERS;
use accord_proto::v1::*;
use accord_store::audit_chain::{ChainedEntry, Verifier};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;

use crate::cli::{AuditCommand, DelegationsCommand, GlobalOptions, KeysCommand};
use crate::client::{Client, UsageError};
use crate::output::{print, print_json};

/// A member name from a code or a name.
fn member_name(member: &str) -> String {
    if member.starts_with("members/") {
        member.to_string()
    } else {
        format!("{MEMBERS}/{}", member.trim())
    }
}

/// Runs `accord delegations …`.
pub async fn delegations(
    client: &Client,
    global: &GlobalOptions,
    command: DelegationsCommand,
) -> anyhow::Result<()> {
    match command {
        DelegationsCommand::Issue {
            member,
            observer,
            ttl_days,
            label,
        } => {
            let request = IssueTokenRequest {
                role: if observer {
                    Role::Observer
                } else {
                    Role::Delegation
                } as i32,
                member: member.as_deref().map(member_name).unwrap_or_default(),
                ttl_seconds: ttl_days.map_or(0, |d| d * 24 * 3600),
                label,
            };
            let response = client
                .delegations()
                .issue_token(request)
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&response));
            } else {
                let token = response.token.unwrap_or_default();
                let who = if token.member.is_empty() {
                    "an observer".to_string()
                } else {
                    format!("the delegation of {}", token.member)
                };
                print(format!(
                    "{} issued for {who}; it is shown only this once:",
                    token.name
                ));
                print(response.secret);
            }
        }
        DelegationsCommand::List => {
            let response = client
                .delegations()
                .list_tokens(ListTokensRequest::default())
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&response));
            } else {
                for t in response.tokens {
                    let state = if t.revoke_time.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    let who = if t.member.is_empty() {
                        "observer".to_string()
                    } else {
                        t.member.clone()
                    };
                    print(format!("{}  {who}  {state}  {}", t.name, t.label));
                }
            }
        }
        DelegationsCommand::Revoke { token } => {
            let name = if token.starts_with("tokens/") {
                token
            } else {
                format!("tokens/{token}")
            };
            let response = client
                .delegations()
                .revoke_token(RevokeTokenRequest { name })
                .await?
                .into_inner();
            let token = response.token.unwrap_or_default();
            print(format!("{} revoked", token.name));
        }
        DelegationsCommand::Whoami => {
            let r = client
                .delegations()
                .who_am_i(WhoAmIRequest {})
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&r));
            } else {
                let role = Role::try_from(r.role).map_or("?", |r| r.as_str_name());
                print(format!("{role} {} ({})", r.member, r.credential));
            }
        }
    }
    Ok(())
}

/// Reads a ballot key written by `accord keys generate` (64 hex digits).
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read key {}: {e}", path.display())))?;
    let bytes: [u8; 32] = hex::decode(text.lines().next().unwrap_or("").trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            UsageError(format!(
                "{} is not a ballot key (64 hex digits)",
                path.display()
            ))
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Runs `accord keys …`.
pub async fn keys(global: &GlobalOptions, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { out } => {
            let seed: [u8; 32] = rand::random();
            let key = SigningKey::from_bytes(&seed);
            write_secret(&out, &format!("{}\n", hex::encode(seed)))
                .with_context(|| format!("writing {}", out.display()))?;
            print(format!(
                "wrote the secret key to {}; public key: {}",
                out.display(),
                hex::encode(key.verifying_key().as_bytes())
            ));
        }
        KeysCommand::Register { key, member } => {
            let key = read_key(&key)?;
            let client = Client::connect(global).await?;
            let response = client
                .delegations()
                .register_ballot_key(RegisterBallotKeyRequest {
                    member: member.as_deref().map(member_name).unwrap_or_default(),
                    public_key: key.verifying_key().as_bytes().to_vec(),
                })
                .await?
                .into_inner();
            let key = response.key.unwrap_or_default();
            print(format!(
                "registered ballot key {} for {}: its ballots must be signed from now on",
                hex::encode(&key.public_key),
                key.member
            ));
        }
    }
    Ok(())
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The audit log does not verify (exit code 1, one line naming the entry).
#[derive(Debug)]
pub struct AuditFailed(pub String);

impl std::fmt::Display for AuditFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuditFailed {}

/// Runs `accord audit …`.
pub async fn audit(global: &GlobalOptions, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Verify { database } = command;
    let report = match database {
        Some(path) => {
            if !path.is_file() {
                return Err(UsageError(format!("{} is not a file", path.display())).into());
            }
            accord_store::SqliteStore::verify_file(&path).await?
        }
        None => {
            let client = Client::connect(global).await?;
            let mut verifier = Verifier::default();
            let mut after = 0;
            let mut broken = None;
            'pages: loop {
                let page = client
                    .audit()
                    .export_audit_log(ExportAuditLogRequest {
                        after_sequence: after,
                        page_size: 10_000,
                    })
                    .await?
                    .into_inner();
                for e in &page.entries {
                    let time = e.time.unwrap_or_default();
                    let entry = ChainedEntry {
                        sequence: e.sequence,
                        seconds: time.seconds,
                        nanos: time.nanos,
                        kind: e.kind.clone(),
                        subject: e.subject.clone(),
                        actor: e.actor.clone(),
                        detail: e.detail.clone(),
                        prev_hash: e.prev_hash.clone(),
                        hash: e.hash.clone(),
                    };
                    if let Err(b) = verifier.push(&entry) {
                        broken = Some(b);
                        break 'pages;
                    }
                    after = e.sequence;
                }
                if !page.more || page.entries.is_empty() {
                    break;
                }
            }
            match broken {
                Some(b) => Err(b),
                None => Ok(verifier.report().clone()),
            }
        }
    };
    match report {
        Ok(r) => {
            if global.json {
                print_json(&serde_json::json!({
                    "verified": true,
                    "entries": r.entries,
                    "signatures": r.signatures,
                    "ballotsCompared": r.ballots_compared,
                    "headSequence": r.head_sequence,
                    "headHash": r.head_hash,
                }));
            } else {
                print(format!(
                    "the audit log verifies: {} entries, {} ballot signatures, {} stored ballots compared; head {} {}",
                    r.entries, r.signatures, r.ballots_compared, r.head_sequence, r.head_hash
                ));
            }
            Ok(())
        }
        Err(broken) => Err(AuditFailed(format!("the audit log does not verify: {broken}")).into()),
    }
}
