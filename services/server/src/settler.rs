//! Coalescing of concurrent settles of one proposal.
//!
//! Guarantee: for each proposal one settle runs at a time, and every call of
//! [`Settlers::coalesce`] returns only after a settle that *started after the call* has
//! finished — so a ballot's caller sees the decision its ballot led to — while no caller runs
//! more than one settle itself. A call takes a ticket; while a settle runs, the others wait, and
//! when it finishes those it did not cover run one more settle, which covers all of them. Under
//! a steady stream of ballots no call is kept settling for the others.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The settling state of every proposal being settled.
#[derive(Debug, Default)]
pub struct Settlers {
    by_proposal: Mutex<HashMap<String, Arc<Settler>>>,
}

impl Settlers {
    /// Runs `settle` for proposal `id` unless a settle that started after this call covers it;
    /// returns once such a settle has finished.
    pub async fn coalesce<F, Fut>(&self, id: &str, settle: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        let settler = {
            let mut settlers = self.by_proposal.lock().expect("settlers lock");
            settlers.entry(id.to_string()).or_default().clone()
        };
        let ticket = settler.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut completed = settler.completed.subscribe();
        let mut settle = Some(settle);
        loop {
            if *completed.borrow_and_update() >= ticket {
                return;
            }
            if let Ok(lock) = settler.running.try_lock() {
                // Ballots are acknowledged in batches (group commit): let the other callers of
                // this batch take their tickets, so that one settle covers them all.
                tokio::task::yield_now().await;
                // Every ticket up to `covered` belongs to a ballot already committed: the
                // settle below sees it.
                let covered = settler.requested.load(Ordering::SeqCst);
                let mut run = SettleRun {
                    settler: &settler,
                    lock: Some(lock),
                    covered: None,
                };
                if let Some(settle) = settle.take() {
                    settle().await;
                }
                run.covered = Some(covered);
                return; // `run` releases the lock and wakes the waiters
            }
            // A settle is running: wait for it to finish, then look again.
            if completed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Drops the state of a proposal that has closed.
    pub fn forget(&self, id: &str) {
        self.by_proposal.lock().expect("settlers lock").remove(id);
    }
}

/// Per-proposal settling state: one settle runs at a time; the calls it did not cover wait
/// for it (see [`Settlers::coalesce`]).
#[derive(Debug)]
pub struct Settler {
    running: tokio::sync::Mutex<()>,
    /// Tickets handed out (one per call of `settle`).
    requested: AtomicU64,
    /// The highest ticket a finished settle covered.
    completed: tokio::sync::watch::Sender<u64>,
}

impl Default for Settler {
    fn default() -> Self {
        Self {
            running: tokio::sync::Mutex::new(()),
            requested: AtomicU64::new(0),
            completed: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// A settle in progress. When it ends — finished, or dropped with its call (a cancelled RPC) —
/// it releases the lock first, then records what it covered (nothing, if it did not finish) and
/// wakes the waiting calls, which settle themselves if they are not covered.
struct SettleRun<'a> {
    settler: &'a Settler,
    lock: Option<tokio::sync::MutexGuard<'a, ()>>,
    covered: Option<u64>,
}

impl Drop for SettleRun<'_> {
    fn drop(&mut self) {
        drop(self.lock.take());
        let covered = self.covered;
        self.settler.completed.send_modify(|completed| {
            if let Some(covered) = covered {
                *completed = (*completed).max(covered);
            }
        });
    }
}
