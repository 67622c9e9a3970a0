//! Tests of the group commit of ballots (`services/store/src/sqlite/group_commit.rs` and
//! `services/store/src/postgres/group_commit.rs`), on both backends: many
//! concurrent ballots are written in few transactions, all acknowledged and all durable (also
//! across SIGKILL of the writing process); a ballot on a closed proposal fails alone in its
//! batch; and a close racing concurrent ballots never leaves out an acknowledged ballot (a
//! close based on stale ballots is refused).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use accord_proto::v1::{
    Ballot, Choice, GenericMotion, Procedure, Proposal, ProposalKind, ProposalState,
    proposal::Action,
};
use accord_store::{AuditEntry, Closing, PageRequest, SqliteStore, Store, StoreError};
use accord_test_support::database::{Backend, TempDatabase};
use prost_types::Timestamp;

const MEMBERS: [&str; 8] = ["USA", "FRA", "DEU", "GBR", "ITA", "POL", "TUR", "CAN"];

async fn seeded_store(backend: Backend) -> (TempDatabase, Arc<dyn Store>) {
    let dir = TempDatabase::new(backend);
    let store = accord_store::open(&dir.url()).await.unwrap();
    assert!(store.seed_if_empty().await.unwrap());
    (dir, store)
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

async fn create_motion(store: &dyn Store, n: i64) -> String {
    let proposal = Proposal {
        title: format!("Motion {n}"),
        sponsor: "members/USA".into(),
        procedure: Procedure::Silence as i32,
        deadline: Some(ts(n + 86_400)),
        state: ProposalState::Open as i32,
        create_time: Some(ts(n)),
        action: Some(Action::GenericMotion(GenericMotion {
            target: "missions/KFOR".into(),
            text: format!("motion {n}"),
        })),
        ..Default::default()
    };
    let created = store
        .create_proposal(&proposal, ProposalKind::GenericMotion, "missions/KFOR")
        .await
        .unwrap();
    created.name.trim_start_matches("proposals/").to_owned()
}

fn ballot(member: &str, choice: Choice, reason: &str) -> Ballot {
    Ballot {
        member: format!("members/{member}"),
        choice: choice as i32,
        salience: Some(0.5),
        reason: reason.to_owned(),
        cast_time: Some(ts(5_000)),
        ..Default::default()
    }
}

fn closing(state: ProposalState, last_ballot: Option<i64>) -> Closing {
    Closing {
        state,
        decision: None,
        close_time: ts(9_000),
        effects: Vec::new(),
        last_ballot,
    }
}

fn sequence_of(ballot: &Ballot) -> i64 {
    ballot.name.rsplit('/').next().unwrap().parse().unwrap()
}

fn everything() -> PageRequest {
    PageRequest {
        size: 1_000_000,
        token: String::new(),
    }
}

fn ballot_audits(entries: &[AuditEntry]) -> usize {
    entries.iter().filter(|e| e.kind == "ballot").count()
}

async fn concurrent_ballots_are_batched_all_acknowledged_and_durable(backend: Backend) {
    let (dir, store) = seeded_store(backend).await;
    let id = create_motion(&*store, 1).await;
    const TASKS: usize = 64;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (store, id) = (store.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..EACH {
                let member = MEMBERS[(task + n) % MEMBERS.len()];
                let choice = if n % 2 == 0 {
                    Choice::Support
                } else {
                    Choice::Abstain
                };
                let b = ballot(member, choice, &format!("{task}-{n}"));
                acked.push(store.cast_ballot(&id, &b).await.unwrap());
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    assert_eq!(acked.len(), TASKS * EACH);
    let names: HashSet<&str> = acked.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.len(), acked.len(), "every ballot has its own name");

    let stats = store.group_commit_stats();
    assert_eq!(stats.ballots, (TASKS * EACH) as u64);
    assert!(
        stats.commits < stats.ballots && stats.largest_batch > 1,
        "concurrent ballots share commits: {stats:?}"
    );
    eprintln!("{stats:?}");
    // The backend-neutral view (what the server's metrics read) says the same.
    let neutral = Store::stats(&*store);
    let batches = neutral.group_commit.expect("SQLite group-commits ballots");
    assert_eq!(
        (batches.commits, batches.ballots, batches.largest_batch),
        (stats.commits, stats.ballots, stats.largest_batch)
    );
    let pool = neutral.pool.expect("SQLite has a pool");
    assert!(
        pool.idle <= pool.size && pool.size <= pool.max && pool.max > 0,
        "{pool:?}"
    );

    // Dropped without closing, then reopened: every acknowledged ballot is there, as
    // acknowledged, with its audit entry, in one unbroken sequence.
    drop(store);
    let store = accord_store::open(&dir.url()).await.unwrap();
    let stored = store.list_ballots(&id, everything()).await.unwrap().items;
    let by_name: HashMap<&str, &Ballot> = stored.iter().map(|b| (b.name.as_str(), b)).collect();
    for b in &acked {
        assert_eq!(
            by_name.get(b.name.as_str()),
            Some(&b),
            "{} as acknowledged",
            b.name
        );
    }
    assert_eq!(stored.len(), acked.len());
    let sequences: Vec<i64> = stored.iter().map(sequence_of).collect();
    assert_eq!(sequences, (1..=acked.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        ballot_audits(&store.audit_log(0, 1_000_000).await.unwrap()),
        acked.len()
    );
    // Each task's ballots were written in the order it cast them.
    let last = store.last_ballots(&id).await.unwrap();
    assert_eq!(last.len(), MEMBERS.len());
    for b in &last {
        let newest = stored
            .iter()
            .filter(|s| s.member == b.member)
            .max_by_key(|s| sequence_of(s))
            .unwrap();
        assert_eq!(b, newest);
    }
    store.close().await;
}

/// The ballots are all handed over before the writer runs (a current-thread runtime runs the
/// writer only when every caster waits), so they form one batch.
async fn a_ballot_on_a_closed_proposal_fails_alone_in_its_batch(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let open = create_motion(&*store, 1).await;
    let closed = create_motion(&*store, 2).await;
    store
        .close_proposal(&closed, &closing(ProposalState::Rejected, None))
        .await
        .unwrap();
    let audit_before = ballot_audits(&store.audit_log(0, 100_000).await.unwrap());

    let mut calls = Vec::new();
    for n in 0..20 {
        calls.push((open.clone(), ballot(MEMBERS[n % 8], Choice::Support, "ok")));
        if n == 7 {
            calls.push((closed.clone(), ballot("HUN", Choice::Object, "too late")));
        }
        if n == 13 {
            calls.push(("99".to_string(), ballot("SVK", Choice::Object, "nowhere")));
        }
    }
    let results = futures_join_all(
        calls
            .iter()
            .map(|(id, b)| store.cast_ballot(id, b))
            .collect(),
    )
    .await;
    assert_eq!(
        store.group_commit_stats().largest_batch,
        calls.len() as u64,
        "one batch"
    );
    assert_eq!(store.group_commit_stats().commits, 1);

    let mut written = Vec::new();
    for ((id, b), result) in calls.iter().zip(results) {
        match (id.as_str(), result) {
            (id, Ok(stored)) if id == open => {
                assert_eq!(stored.reason, b.reason);
                written.push(stored);
            }
            ("2", Err(StoreError::ProposalClosed { id, state })) => {
                assert_eq!((id.as_str(), state), ("2", "rejected"));
            }
            ("99", Err(StoreError::NotFound { kind, id })) => {
                assert_eq!((kind, id.as_str()), ("proposal", "99"));
            }
            (id, other) => panic!("ballot on {id}: {other:?}"),
        }
    }
    assert_eq!(written.len(), 20, "the other ballots are all written");
    let sequences: Vec<i64> = written.iter().map(sequence_of).collect();
    assert_eq!(sequences, (1..=20).collect::<Vec<_>>(), "no gap, in order");
    assert_eq!(
        store.list_ballots(&open, everything()).await.unwrap().items,
        written
    );
    assert_eq!(
        store
            .list_ballots(&closed, everything())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        ballot_audits(&store.audit_log(0, 100_000).await.unwrap()),
        audit_before + 20,
        "an audit entry for each written ballot, none for the refused ones"
    );
}

/// `futures::future::join_all` without the dependency: polls every future in turn until all
/// are done.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

async fn a_close_racing_concurrent_ballots_never_leaves_out_an_acknowledged_ballot(
    backend: Backend,
) {
    let (_dir, store) = seeded_store(backend).await;
    let id = create_motion(&*store, 1).await;
    let acked_count = Arc::new(AtomicUsize::new(0));
    let mut casters = Vec::new();
    for task in 0..16 {
        let (store, id, acked_count) = (store.clone(), id.clone(), acked_count.clone());
        casters.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..300 {
                let b = ballot(MEMBERS[task % 8], Choice::Support, &format!("{task}-{n}"));
                match store.cast_ballot(&id, &b).await {
                    Ok(b) => {
                        acked.push(sequence_of(&b));
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(StoreError::ProposalClosed { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            acked
        }));
    }
    while acked_count.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // Decide on what has been cast so far, and close with it: refused while newer ballots keep
    // arriving, until one close is based on the latest ballot.
    let mut refused = 0;
    let seen = loop {
        let seen = store
            .last_ballots(&id)
            .await
            .unwrap()
            .iter()
            .map(sequence_of)
            .max()
            .unwrap();
        match store
            .close_proposal(&id, &closing(ProposalState::Adopted, Some(seen)))
            .await
        {
            Ok(_) => break seen,
            Err(StoreError::Stale {
                seen: s, latest, ..
            }) => {
                assert_eq!(s, seen);
                assert!(latest > seen);
                refused += 1;
                assert!(refused < 100_000, "the close never caught up");
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut acked = BTreeSet::new();
    for caster in casters {
        acked.extend(caster.await.unwrap());
    }
    eprintln!(
        "{} ballots acknowledged; the close saw up to {seen} after {refused} stale attempts",
        acked.len()
    );
    assert!(
        acked.iter().all(|s| *s <= seen),
        "a ballot acknowledged after the close it is missing from"
    );
    assert_eq!(
        acked.len() as i64,
        seen,
        "every acknowledged ballot, no other"
    );
    let stored = store.list_ballots(&id, everything()).await.unwrap().items;
    assert_eq!(
        stored.iter().map(sequence_of).collect::<BTreeSet<_>>(),
        acked
    );
    assert_eq!(
        store.get_proposal(&id).await.unwrap().state,
        ProposalState::Adopted as i32
    );
}

// ----- crash durability with concurrent writers -----

const CHILD_DB_ENV: &str = "ACCORD_GROUP_COMMIT_CRASH_CHILD_DB";
const CHILD_ROUND_ENV: &str = "ACCORD_GROUP_COMMIT_CRASH_CHILD_ROUND";
/// Concurrent casters in the child.
const CHILD_TASKS: usize = 32;

/// The writer that `crash_durability_with_concurrent_ballots` runs in a child process: casts
/// ballots from `CHILD_TASKS` tasks at once (so that they are group-committed) and prints
/// "acked R-T-N" after each one that returned OK, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of crash_durability_with_concurrent_ballots"]
async fn crash_child_concurrent_writer() {
    let Ok(url) = std::env::var(CHILD_DB_ENV) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND_ENV).unwrap();
    let store = accord_store::open(&url).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..CHILD_TASKS {
        let (store, round) = (store.clone(), round.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..1_000_000 {
                let reason = format!("{round}-{task}-{n}");
                let b = ballot(MEMBERS[task % MEMBERS.len()], Choice::Support, &reason);
                store.cast_ballot("1", &b).await.unwrap();
                println!("acked {reason}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    panic!("the writer was not killed");
}

/// Every ballot the concurrent writer acknowledged is in the database after a SIGKILL, over
/// three rounds of kill and recovery; at most the ballots in flight were written unacknowledged.
async fn crash_durability_with_concurrent_ballots(backend: Backend) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let dir = TempDatabase::new(backend);
    let url = dir.url();
    {
        let store = accord_store::open(&url).await.unwrap();
        create_motion(&*store, 1).await;
        store.close().await;
    }
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<String> = Vec::new();
    for (round, kill_after) in [300, 1_000, 500].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_concurrent_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB_ENV, &url)
            .env(CHILD_ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut acked_this_round = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            // libtest prints "test … ... " without a newline before the test runs, so the first
            // ack may share its line: find the marker anywhere in the line.
            if let Some(reason) = line.find("acked ").map(|at| &line[at + "acked ".len()..]) {
                acked.push(reason.to_owned());
                acked_this_round += 1;
                if acked_this_round == kill_after {
                    child.kill().unwrap(); // SIGKILL, while the casters go on casting
                }
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "round {round}: {status}");
        assert!(acked_this_round >= kill_after, "round {round}");

        let store = accord_store::open(&url).await.unwrap();
        let ballots = store.list_ballots("1", everything()).await.unwrap().items;
        let stored: HashSet<&str> = ballots.iter().map(|b| b.reason.as_str()).collect();
        let missing: Vec<_> = acked
            .iter()
            .filter(|r| !stored.contains(r.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged ballots lost: {missing:?}"
        );
        eprintln!(
            "round {round}: {acked_this_round} acknowledged, {} stored in all",
            ballots.len()
        );
        // Written but not acknowledged: at most one per caster per round (its ballot in flight).
        assert!(
            ballots.len() <= acked.len() + (round + 1) * CHILD_TASKS,
            "{} stored, {} acked",
            ballots.len(),
            acked.len()
        );
        assert_eq!(
            ballot_audits(&store.audit_log(0, 1_000_000).await.unwrap()),
            ballots.len()
        );
        let sequences: Vec<i64> = ballots.iter().map(sequence_of).collect();
        assert_eq!(sequences, (1..=ballots.len() as i64).collect::<Vec<_>>());
        store.close().await;
    }
}

/// The last ballots the writer keeps in memory agree with the database at every step, while
/// concurrent ballots arrive on two proposals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_ballots_kept_in_memory_agree_with_the_database() {
    let dir = accord_test_support::database::TempSqlite::new();
    let store = SqliteStore::open(&dir.url()).await.unwrap();
    assert!(store.seed_if_empty().await.unwrap());
    let first = create_motion(&store, 1).await;
    let second = create_motion(&store, 2).await;
    assert!(store.last_ballots(&first).await.unwrap().is_empty());
    let store = Arc::new(store);
    let from_database = |store: Arc<SqliteStore>, id: String| async move {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT message, MAX(sequence) FROM ballots WHERE proposal_id = ?1 \
             GROUP BY member ORDER BY member",
        )
        .bind(id.parse::<i64>().unwrap())
        .fetch_all(store.pool())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(m, _)| prost::Message::decode(m.as_slice()).unwrap())
            .collect::<Vec<Ballot>>()
    };
    for round in 0..5 {
        let mut tasks = Vec::new();
        for task in 0..32usize {
            let store = store.clone();
            let id = if task % 3 == 0 { &second } else { &first }.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..10usize {
                    let member = MEMBERS[(task * 7 + n + round) % MEMBERS.len()];
                    let b = ballot(member, Choice::Abstain, &format!("{round}-{task}-{n}"));
                    store.cast_ballot(&id, &b).await.unwrap();
                }
            }));
        }
        // Read while the ballots are being written: a consistent snapshot each time.
        for _ in 0..5 {
            let last = store.last_ballots(&first).await.unwrap();
            let members: Vec<&str> = last.iter().map(|b| b.member.as_str()).collect();
            let mut sorted = members.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(members, sorted, "one per member, ordered by member");
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        for id in [&first, &second] {
            assert_eq!(
                store.last_ballots(id).await.unwrap(),
                from_database(store.clone(), id.clone()).await,
                "round {round}, proposal {id}"
            );
        }
    }
    assert!(matches!(
        store.last_ballots("99").await,
        Err(StoreError::NotFound {
            kind: "proposal",
            ..
        })
    ));
}

// ----- the tests above, on both backends -----

/// Makes, for each `async fn NAME(backend: Backend)`, the tests `sqlite::NAME` and
/// `postgres::NAME` (`multi`: on a two-worker runtime; `current`: on a current-thread runtime).
macro_rules! both_backends {
    (multi: [$($m:ident),* $(,)?], current: [$($c:ident),* $(,)?]) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $m() {
                    super::$m(super::Backend::Sqlite).await
                }
            )*
            $(
                #[tokio::test]
                async fn $c() {
                    super::$c(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $m() {
                    super::$m(super::Backend::Postgres).await
                }
            )*
            $(
                #[tokio::test]
                async fn $c() {
                    super::$c(super::Backend::Postgres).await
                }
            )*
        }
    };
}

both_backends!(
    multi: [
        concurrent_ballots_are_batched_all_acknowledged_and_durable,
        a_close_racing_concurrent_ballots_never_leaves_out_an_acknowledged_ballot,
    ],
    current: [
        a_ballot_on_a_closed_proposal_fails_alone_in_its_batch,
        crash_durability_with_concurrent_ballots,
    ]
);
