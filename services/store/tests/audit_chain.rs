//! Tests of the trust half of the store on both backends — a real SQLite file and a real
//! database in a PostgreSQL server the tests start themselves (`accord_test_support::database`):
//! the audit chain verifies after a mixed workload (records, proposals, plain and signed ballots,
//! a close with effects, settings, tokens, keys, events) and names who did each write; a row
//! changed or deleted behind the store's back (with sqlx, as an intruder with database access
//! would) is caught by `verify_audit`, which names the entry; tokens and ballot keys round trip;
//! the ballot writer checks signatures against the stored keys; and the copy of a chained SQLite
//! database into PostgreSQL verifies there, with its tokens and
//! keys, and goes on chaining.

use std::sync::Arc;

use accord_proto::canonical;
use accord_proto::v1::{
    Ballot, Choice, Decision, GenericMotion, Outcome, PolicyIdentity, Procedure, Proposal,
    ProposalKind, ProposalState, proposal::Action,
};
use accord_store::actor::acting_as;
use accord_store::{
    AuditEvent, BallotKeyRecord, ChainReport, Closing, Effect, Json, SqliteStore, Store,
    TokenRecord,
};
use accord_test_support::database::{Backend, TempDatabase, TempPostgres, TempSqlite};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message as _;
use prost_types::Timestamp;

async fn seeded_store(backend: Backend) -> (TempDatabase, Arc<dyn Store>) {
    let db = TempDatabase::new(backend);
    let store = accord_store::open(&db.url()).await.unwrap();
    assert!(store.seed_if_empty().await.unwrap());
    (db, store)
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

fn motion(n: i64) -> Proposal {
    Proposal {
        title: format!("Motion {n}"),
        description: "for the chain tests".into(),
        action: Some(Action::GenericMotion(GenericMotion {
            target: "missions/KFOR".into(),
            text: format!("motion {n}"),
        })),
        sponsor: "members/USA".into(),
        procedure: Procedure::OpenVote as i32,
        deadline: Some(ts(n + 86_400)),
        state: ProposalState::Open as i32,
        create_time: Some(ts(n)),
        ..Default::default()
    }
}

async fn create(store: &dyn Store, n: i64) -> Proposal {
    store
        .create_proposal(&motion(n), ProposalKind::GenericMotion, "missions/KFOR")
        .await
        .unwrap()
}

fn ballot(member: &str, choice: Choice) -> Ballot {
    Ballot {
        member: format!("members/{member}"),
        choice: choice as i32,
        salience: Some(0.5),
        reason: format!("{member} says so"),
        cast_time: Some(ts(5_000)),
        ..Default::default()
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// `ballot` on `proposal`, signed with [`key`] over its canonical encoding.
fn signed(proposal: &str, mut ballot: Ballot, nonce: &str) -> Ballot {
    ballot.nonce = nonce.into();
    let bytes = canonical::ballot(proposal, &ballot);
    ballot.signature = key().sign(&bytes).to_bytes().to_vec();
    ballot
}

fn token(member: &str, secret: &str) -> TokenRecord {
    TokenRecord {
        id: 0,
        role: 2,
        member: member.into(),
        secret_sha256: canonical::sha256_hex(secret.as_bytes()),
        label: format!("delegation of {member}"),
        create_time_ms: 1_000,
        expire_time_ms: 9_000_000_000_000,
        revoke_time_ms: None,
    }
}

/// A workload touching every kind of audited write, some of them as named actors. Returns
/// the number of ballots cast.
async fn mixed_workload(store: &dyn Store) -> i64 {
    store
        .register_ballot_key(&BallotKeyRecord {
            member: "DEU".into(),
            public_key: key().verifying_key().to_bytes().to_vec(),
            create_time_ms: 2_000,
        })
        .await
        .unwrap();
    let issued = acting_as("operator".into(), store.issue_token(&token("FRA", "s1"))).await;
    let issued = issued.unwrap();
    store.issue_token(&token("DEU", "s2")).await.unwrap();
    store.revoke_token(issued.id, 3_000).await.unwrap();
    let first = acting_as("members/USA".into(), create(store, 1_000)).await;
    let second = create(store, 2_000).await;
    let mut ballots = 0;
    for (member, choice) in [("USA", Choice::Support), ("FRA", Choice::Object)] {
        acting_as(
            format!("members/{member}"),
            store.cast_ballot("1", &ballot(member, choice)),
        )
        .await
        .unwrap();
        ballots += 1;
    }
    let deu = signed(&first.name, ballot("DEU", Choice::Support), "n-1");
    acting_as("members/DEU".into(), store.cast_ballot("1", &deu))
        .await
        .unwrap();
    ballots += 1;
    // Concurrent ballots share a group commit: each keeps its own actor.
    let futures = ["GBR", "ITA", "ESP", "POL", "NLD"].map(|member| {
        let b = ballot(member, Choice::Support);
        acting_as(format!("members/{member}"), async move {
            store.cast_ballot("2", &b).await.unwrap();
        })
    });
    futures::future::join_all(futures).await;
    ballots += 5;
    let mut kfor = store.get_mission("KFOR").await.unwrap();
    kfor.personnel_ceiling = 3_500;
    store
        .close_proposal(
            &second.name["proposals/".len()..],
            &Closing {
                state: ProposalState::Adopted,
                decision: Some(Decision {
                    outcome: Outcome::Adopted as i32,
                    settled: true,
                    policy: Some(PolicyIdentity {
                        policy_id: "unanimity".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                close_time: ts(9_000),
                effects: vec![Effect::UpdateMission(kfor)],
                last_ballot: None,
            },
        )
        .await
        .unwrap();
    store
        .set_setting("default_policy", "weighted")
        .await
        .unwrap();
    store
        .append_audit(AuditEvent::event(
            "policy_loaded",
            "policies/weighted",
            Json::new().str("sha256", "ab").finish(),
        ))
        .await
        .unwrap();
    ballots
}

fn verified(result: Result<ChainReport, accord_store::ChainBroken>) -> ChainReport {
    result.unwrap_or_else(|broken| panic!("the chain does not verify: {broken}"))
}

/// After a mixed workload the chain verifies, covers every entry, checks the signed ballot and
/// compares every stored ballot; each entry names its actor; the export is the log.
async fn the_chain_verifies_after_a_mixed_workload(backend: Backend) {
    let (_db, store) = seeded_store(backend).await;
    let ballots = mixed_workload(&*store).await;
    let report = verified(store.verify_audit().await.unwrap());
    let log = store.audit_log(0, 100_000).await.unwrap();
    assert_eq!(report.entries, log.len() as i64);
    assert_eq!(report.head_sequence, log.last().unwrap().sequence);
    assert_eq!(report.signatures, 1);
    assert_eq!(report.ballots_compared, ballots);
    let chain = store.export_audit(0, 100_000).await.unwrap();
    assert_eq!(chain.len(), log.len());
    assert_eq!(chain.last().unwrap().hash, report.head_hash);
    let sequences: Vec<i64> = chain.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=chain.len() as i64).collect::<Vec<_>>());
    let actor_of = |kind: &str, subject: &str| -> Vec<String> {
        chain
            .iter()
            .filter(|e| e.kind == kind && e.subject == subject)
            .map(|e| e.actor.clone())
            .collect()
    };
    assert_eq!(actor_of("seed", "dataset"), ["system"]);
    assert_eq!(actor_of("token_issued", "tokens/1"), ["operator"]);
    assert_eq!(actor_of("proposal_created", "proposals/1"), ["members/USA"]);
    assert_eq!(
        actor_of("ballot", "proposals/1"),
        ["members/USA", "members/FRA", "members/DEU"]
    );
    let mut batch = actor_of("ballot", "proposals/2");
    batch.sort();
    assert_eq!(
        batch,
        [
            "members/ESP",
            "members/GBR",
            "members/ITA",
            "members/NLD",
            "members/POL"
        ]
    );
    // Paging the export.
    let tail = store
        .export_audit(chain.len() as i64 - 2, 10)
        .await
        .unwrap();
    assert_eq!(tail, chain[chain.len() - 2..]);
    store.close().await;
}

/// Runs `sql` on the database behind `db` directly, as someone with database access would.
async fn tamper(db: &TempDatabase, sql: &str) -> u64 {
    match db.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
            let done = sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
            let done = sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
    }
}

async fn reopened(db: &TempDatabase) -> Arc<dyn Store> {
    accord_store::open(&db.url()).await.unwrap()
}

/// The audit sequence of the entry of `kind` about `subject` (the first).
async fn sequence_of(store: &dyn Store, kind: &str, subject: &str) -> i64 {
    store
        .export_audit(0, 100_000)
        .await
        .unwrap()
        .iter()
        .find(|e| e.kind == kind && e.subject == subject)
        .unwrap_or_else(|| panic!("no {kind} entry about {subject}"))
        .sequence
}

/// A ballot's stored message changed behind the store's back is named by its entry.
async fn a_changed_ballot_is_caught(backend: Backend) {
    let (db, store) = seeded_store(backend).await;
    mixed_workload(&*store).await;
    verified(store.verify_audit().await.unwrap());
    let entry = sequence_of(&*store, "ballot", "proposals/1").await;
    store.close().await;
    // FRA's objection (ballot 2) rewritten as support, columns and message alike.
    let mut forged = ballot("FRA", Choice::Support);
    forged.name = "proposals/1/ballots/2".into();
    let message = hex::encode(forged.encode_to_vec());
    let literal = match backend {
        Backend::Sqlite => format!("x'{message}'"),
        Backend::Postgres => format!("'\\x{message}'::bytea"),
    };
    let changed = tamper(
        &db,
        &format!(
            "UPDATE ballots SET choice = {}, message = {literal} WHERE sequence = 2",
            Choice::Support as i32
        ),
    )
    .await;
    assert_eq!(changed, 1);
    let store = reopened(&db).await;
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.sequence, entry + 1, "{broken}");
    assert!(broken.reason.contains("proposals/1/ballots/2"), "{broken}");
    store.close().await;
}

/// An audit row deleted from the middle is named (the first missing sequence); one changed in
/// place is named; entries deleted from the end and then written over leave a gap that is named.
async fn deleted_and_changed_entries_are_caught(backend: Backend) {
    let (db, store) = seeded_store(backend).await;
    mixed_workload(&*store).await;
    let head = verified(store.verify_audit().await.unwrap()).head_sequence;
    store.close().await;

    assert_eq!(
        tamper(&db, "DELETE FROM audit_log WHERE sequence = 5").await,
        1
    );
    let store = reopened(&db).await;
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.sequence, 5, "{broken}");
    assert!(broken.reason.contains("missing"), "{broken}");
    store.close().await;

    let (db, store) = seeded_store(backend).await;
    mixed_workload(&*store).await;
    store.close().await;
    tamper(
        &db,
        "UPDATE audit_log SET detail = '{\"key\":\"default_policy\",\"value\":\"unanimity\"}' \
         WHERE kind = 'setting'",
    )
    .await;
    let store = reopened(&db).await;
    let setting = sequence_of(&*store, "setting", "settings/default_policy").await;
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.sequence, setting, "{broken}");
    store.close().await;

    let (db, store) = seeded_store(backend).await;
    mixed_workload(&*store).await;
    store.close().await;
    let deleted = tamper(
        &db,
        &format!("DELETE FROM audit_log WHERE sequence > {}", head - 2),
    )
    .await;
    assert_eq!(deleted, 2);
    let store = reopened(&db).await;
    // Only the newest entries gone: the chain that is left verifies (keep the head elsewhere).
    verified(store.verify_audit().await.unwrap());
    store.set_setting("after", "tampering").await.unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.sequence, head - 1, "{broken}");
    assert!(broken.reason.contains("missing"), "{broken}");
    store.close().await;
}

/// Tokens and ballot keys round trip: ids assigned in order, revocation kept (the first one),
/// the latest key of each member current; all of it survives reopening.
async fn tokens_and_keys_round_trip(backend: Backend) {
    let (db, store) = seeded_store(backend).await;
    assert!(store.tokens().await.unwrap().is_empty());
    assert!(store.ballot_keys().await.unwrap().is_empty());
    let a = store.issue_token(&token("DEU", "a")).await.unwrap();
    let b = store.issue_token(&token("FRA", "b")).await.unwrap();
    assert!(b.id > a.id);
    assert_eq!(
        a,
        TokenRecord {
            id: a.id,
            ..token("DEU", "a")
        }
    );
    let revoked = store.revoke_token(a.id, 5_000).await.unwrap();
    assert_eq!(revoked.revoke_time_ms, Some(5_000));
    let again = store.revoke_token(a.id, 6_000).await.unwrap();
    assert_eq!(
        again.revoke_time_ms,
        Some(5_000),
        "the first revocation stays"
    );
    assert!(store.revoke_token(9_999, 1).await.is_err());
    assert!(
        store.issue_token(&token("ITA", "a")).await.is_err(),
        "one secret, one token"
    );
    let keys = |member: &str, byte: u8, at: i64| BallotKeyRecord {
        member: member.into(),
        public_key: SigningKey::from_bytes(&[byte; 32])
            .verifying_key()
            .to_bytes()
            .to_vec(),
        create_time_ms: at,
    };
    store
        .register_ballot_key(&keys("DEU", 1, 10))
        .await
        .unwrap();
    store
        .register_ballot_key(&keys("FRA", 2, 11))
        .await
        .unwrap();
    store
        .register_ballot_key(&keys("DEU", 3, 12))
        .await
        .unwrap();
    let expected_tokens = vec![
        TokenRecord {
            revoke_time_ms: Some(5_000),
            ..a.clone()
        },
        b.clone(),
    ];
    let expected_keys = vec![keys("DEU", 3, 12), keys("FRA", 2, 11)];
    assert_eq!(store.tokens().await.unwrap(), expected_tokens);
    assert_eq!(store.ballot_keys().await.unwrap(), expected_keys);
    verified(store.verify_audit().await.unwrap());
    store.close().await;
    let store = reopened(&db).await;
    assert_eq!(store.tokens().await.unwrap(), expected_tokens);
    assert_eq!(store.ballot_keys().await.unwrap(), expected_keys);
    store.close().await;
}

/// A chained SQLite database (tokens, keys, a signed ballot, a gap-free chain) copied into
/// PostgreSQL verifies there with the same head, keeps its tokens and keys, and goes on chaining.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_of_a_chained_sqlite_database_verifies_on_postgres() {
    let sqlite = TempSqlite::new();
    let source = SqliteStore::open(&sqlite.url()).await.unwrap();
    source.seed_if_empty().await.unwrap();
    let ballots = mixed_workload(&source).await;
    let report = verified(source.verify_audit().await.unwrap());
    let chain = source.export_audit(0, 100_000).await.unwrap();
    let tokens = source.tokens().await.unwrap();
    let keys = source.ballot_keys().await.unwrap();
    source.close().await;

    let target = TempPostgres::shared().database();
    let copied = accord_store::migrate::copy_sqlite_to_postgres(&sqlite.url(), &target)
        .await
        .unwrap();
    for table in ["audit_log", "tokens", "ballot_keys"] {
        assert!(copied.to_string().contains(table), "{copied}");
    }
    let copy = accord_store::open(&target).await.unwrap();
    let on_postgres = verified(copy.verify_audit().await.unwrap());
    assert_eq!(on_postgres, report);
    assert_eq!(on_postgres.ballots_compared, ballots);
    assert_eq!(copy.export_audit(0, 100_000).await.unwrap(), chain);
    assert_eq!(copy.tokens().await.unwrap(), tokens);
    assert_eq!(copy.ballot_keys().await.unwrap(), keys);
    // It goes on: new tokens and ballots chain after the copied head.
    let next = copy.issue_token(&token("NOR", "after")).await.unwrap();
    assert!(next.id > tokens.iter().map(|t| t.id).max().unwrap());
    acting_as(
        "members/CAN".into(),
        copy.cast_ballot("1", &ballot("CAN", Choice::Support)),
    )
    .await
    .unwrap();
    let after = verified(copy.verify_audit().await.unwrap());
    assert_eq!(after.entries, report.entries + 2);
    let added = copy.export_audit(report.head_sequence, 10).await.unwrap();
    assert_eq!(added[0].prev_hash, report.head_hash);
    assert_eq!(added[1].actor, "members/CAN");
    copy.close().await;
}

/// A SQLite database whose newest entries were deleted keeps its gap through the copy: the next
/// entry written on PostgreSQL does not reuse the deleted sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_keeps_the_highest_sequence_sqlite_used() {
    let sqlite = TempSqlite::new();
    let source = SqliteStore::open(&sqlite.url()).await.unwrap();
    source.seed_if_empty().await.unwrap();
    mixed_workload(&source).await;
    let head = verified(source.verify_audit().await.unwrap()).head_sequence;
    let pool = source.pool().clone();
    sqlx::query("DELETE FROM audit_log WHERE sequence = ?1")
        .bind(head)
        .execute(&pool)
        .await
        .unwrap();
    source.close().await;
    let target = TempPostgres::shared().database();
    accord_store::migrate::copy_sqlite_to_postgres(&sqlite.url(), &target)
        .await
        .unwrap();
    let copy = accord_store::open(&target).await.unwrap();
    verified(copy.verify_audit().await.unwrap());
    copy.set_setting("after", "copy").await.unwrap();
    let broken = copy.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.sequence, head, "{broken}");
    copy.close().await;
}

/// The ballot writer checks signatures against the keys in the database, under the write lock
/// (a key registered through another replica counts before this one hears of it): an unsigned
/// or wrongly signed ballot of a member with a key, or a signed one of a member without, is
/// refused alone, and nothing of it is written; the chain still verifies.
async fn the_writer_checks_signatures_against_the_stored_keys(backend: Backend) {
    let (_db, store) = seeded_store(backend).await;
    let open = create(&*store, 1_000).await;
    store
        .register_ballot_key(&BallotKeyRecord {
            member: "DEU".into(),
            public_key: key().verifying_key().to_bytes().to_vec(),
            create_time_ms: 2_000,
        })
        .await
        .unwrap();
    let before = store.audit_log(0, 100_000).await.unwrap();
    let unsigned = store
        .cast_ballot("1", &ballot("DEU", Choice::Support))
        .await;
    assert!(
        matches!(&unsigned, Err(accord_store::StoreError::Signature(m)) if m.contains("members/DEU")),
        "{unsigned:?}"
    );
    let mut forged = signed(&open.name, ballot("DEU", Choice::Support), "n-1");
    forged.choice = Choice::Object as i32;
    let forged = store.cast_ballot("1", &forged).await;
    assert!(
        matches!(&forged, Err(accord_store::StoreError::Signature(_))),
        "{forged:?}"
    );
    let no_key = signed(&open.name, ballot("FRA", Choice::Support), "n-2");
    let no_key = store.cast_ballot("1", &no_key).await;
    assert!(
        matches!(&no_key, Err(accord_store::StoreError::Signature(m)) if m.contains("no ballot key")),
        "{no_key:?}"
    );
    // Refused alone: concurrent good ballots in the same batch are written.
    let (good, bad) = (
        signed(&open.name, ballot("DEU", Choice::Support), "n-3"),
        ballot("DEU", Choice::Object),
    );
    let (good, bad) = futures::join!(store.cast_ballot("1", &good), store.cast_ballot("1", &bad));
    assert_eq!(good.unwrap().name, "proposals/1/ballots/1");
    assert!(bad.is_err());
    assert_eq!(store.last_ballots("1").await.unwrap().len(), 1);
    assert_eq!(
        store.audit_log(0, 100_000).await.unwrap().len(),
        before.len() + 1
    );
    let report = verified(store.verify_audit().await.unwrap());
    assert_eq!((report.signatures, report.ballots_compared), (1, 1));
    store.close().await;
}

/// A SQLite database written before the chain existed (no actors, no hashes, a sequence
/// missing, as an older store could leave) is linked when copied into PostgreSQL: it verifies
/// there, every old entry by `system`, and the next entry follows without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_of_an_unchained_database_is_chained_on_postgres() {
    let sqlite = TempSqlite::new();
    let source = SqliteStore::open(&sqlite.url()).await.unwrap();
    source.seed_if_empty().await.unwrap();
    create(&source, 1_000).await;
    create(&source, 2_000).await;
    source
        .cast_ballot("1", &ballot("USA", Choice::Support))
        .await
        .unwrap();
    source
        .set_setting("default_policy", "weighted")
        .await
        .unwrap();
    let pool = source.pool().clone();
    for sql in [
        "UPDATE audit_log SET actor = '', prev_hash = '', hash = ''",
        "UPDATE store_meta SET value = 'unsealed' WHERE key = 'audit_chain'",
        "DELETE FROM audit_log WHERE kind = 'proposal_created' AND subject = 'proposals/2'",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let old = source.audit_log(0, 100_000).await.unwrap();
    source.close().await;

    let target = TempPostgres::shared().database();
    accord_store::migrate::copy_sqlite_to_postgres(&sqlite.url(), &target)
        .await
        .unwrap();
    let copy = accord_store::open(&target).await.unwrap();
    let report = verified(copy.verify_audit().await.unwrap());
    assert_eq!(report.entries, old.len() as i64);
    let chain = copy.export_audit(0, 100_000).await.unwrap();
    assert!(chain.iter().all(|e| e.actor == "system"));
    let new_kinds: Vec<&str> = chain.iter().map(|e| e.kind.as_str()).collect();
    let old_kinds: Vec<&str> = old.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(new_kinds, old_kinds);
    copy.set_setting("after", "copy").await.unwrap();
    let after = verified(copy.verify_audit().await.unwrap());
    assert_eq!(after.head_sequence, old.len() as i64 + 1);
    copy.close().await;
}

/// Makes, for each `async fn NAME(backend: Backend)`, the tests `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

both_backends!(
    the_chain_verifies_after_a_mixed_workload,
    a_changed_ballot_is_caught,
    deleted_and_changed_entries_are_caught,
    tokens_and_keys_round_trip,
    the_writer_checks_signatures_against_the_stored_keys,
);
