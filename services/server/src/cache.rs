//! The alliance's records kept in memory, so that reading them costs close to the transport:
//! the members, partners and missions (each kind whole, ordered by key: Get is a binary search,
//! List a page cut by the store's own rules, see `accord_store::MemoryPages`), and proposals
//! (open ones until they close; closed ones, which never change again, up to a bound).
//!
//! These stay exact as long as every write that changes them invalidates them after the store
//! has committed it: on this server the write paths do (`alliance.rs`, a close's effects in
//! `proposals.rs`, missions reaching their end date in `deadlines.rs`); another replica's writes
//! arrive as `Change` notices (`replicas.rs`), and a lost notice connection invalidates
//! everything. A read that raced with an invalidation does not install what it read: each cache
//! has a generation, bumped by every invalidation, and a value loaded under an older generation
//! is returned but not kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use accord_proto::v1::{Member, Mission, Partner, Proposal, ProposalState};
use accord_store::{Store, StoreError, StoreResult};
use futures::future::BoxFuture;

/// A kind of record kept whole in memory: how to load every record of it, ordered by key.
pub trait Cached: Sized + Send + Sync + 'static {
    /// The kind in `NotFound` errors, as the store names it ("member").
    const KIND: &'static str;
    /// Its key ("USA", "KFOR"), the order of the list.
    fn key(&self) -> &str;
    /// Every record of the kind, ordered by key (bytewise, as the store orders its listings).
    fn load(store: &dyn Store) -> BoxFuture<'_, StoreResult<Vec<Self>>>;
}

impl Cached for Member {
    const KIND: &'static str = "member";
    fn key(&self) -> &str {
        &self.code
    }
    fn load(store: &dyn Store) -> BoxFuture<'_, StoreResult<Vec<Self>>> {
        store.all_members()
    }
}

impl Cached for Partner {
    const KIND: &'static str = "partner";
    fn key(&self) -> &str {
        &self.code
    }
    fn load(store: &dyn Store) -> BoxFuture<'_, StoreResult<Vec<Self>>> {
        store.all_partners()
    }
}

impl Cached for Mission {
    const KIND: &'static str = "mission";
    fn key(&self) -> &str {
        &self.id
    }
    fn load(store: &dyn Store) -> BoxFuture<'_, StoreResult<Vec<Self>>> {
        store.all_missions()
    }
}

/// Every record of one kind, ordered by key, as the store lists them.
#[derive(Debug)]
pub struct RecordCache<R> {
    inner: Mutex<(u64, Option<Arc<Vec<R>>>)>,
}

impl<R> Default for RecordCache<R> {
    fn default() -> Self {
        Self {
            inner: Mutex::new((0, None)),
        }
    }
}

/// The members (the ballot path validates against them; Get and List read them).
pub type MemberCache = RecordCache<Member>;

impl<R: Cached> RecordCache<R> {
    /// Every record, ordered by key.
    pub async fn all(&self, store: &dyn Store) -> StoreResult<Arc<Vec<R>>> {
        let generation = {
            let inner = self.inner.lock().expect("record cache lock");
            if let Some(records) = &inner.1 {
                return Ok(records.clone());
            }
            inner.0
        };
        let records = Arc::new(R::load(store).await?);
        let mut inner = self.inner.lock().expect("record cache lock");
        if inner.0 == generation {
            inner.1 = Some(records.clone());
        }
        Ok(records)
    }

    /// What `read` makes of the record with key `key`, or the store's `NotFound`.
    pub async fn with<T>(
        &self,
        store: &dyn Store,
        key: &str,
        read: impl FnOnce(&R) -> T,
    ) -> StoreResult<T> {
        let records = self.all(store).await?;
        records
            .binary_search_by(|r| r.key().cmp(key))
            .map(|i| read(&records[i]))
            .map_err(|_| StoreError::NotFound {
                kind: R::KIND,
                id: key.to_owned(),
            })
    }

    /// Forgets the records (after one was created, updated or deleted).
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock().expect("record cache lock");
        inner.0 += 1;
        inner.1 = None;
    }
}

/// How many closed proposals are kept (the oldest kept is forgotten first).
pub const CLOSED_PROPOSALS_KEPT: usize = 4096;

#[derive(Debug, Default)]
struct Proposals {
    generation: u64,
    by_id: HashMap<u64, Arc<Proposal>>,
    /// The closed proposals in `by_id`, in the order they were kept.
    closed: VecDeque<u64>,
}

/// Proposals by number ("3" and "03" are the same proposal): open ones until they close (a
/// proposal's record does not change while it is open: ballots are kept apart from it), closed
/// ones for good (a closed proposal never changes), at most [`CLOSED_PROPOSALS_KEPT`] of them.
#[derive(Debug, Default)]
pub struct ProposalCache {
    inner: Mutex<Proposals>,
}

impl ProposalCache {
    /// Proposal `id` ("3"): from the cache, else from the store (and then kept).
    pub async fn get(&self, store: &dyn Store, id: &str) -> StoreResult<Arc<Proposal>> {
        self.read(store, id, true).await
    }

    /// Proposal `id`, taken from the cache only if it is closed or `open_too`; what it reads from
    /// the store is kept (a closed proposal replacing the open one kept).
    pub async fn read(
        &self,
        store: &dyn Store,
        id: &str,
        open_too: bool,
    ) -> StoreResult<Arc<Proposal>> {
        // Only plain digits: the store refuses "+3", which `parse` would take for 3.
        let key = id
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| id.parse::<u64>().ok())
            .flatten();
        let Some(key) = key else {
            return Ok(Arc::new(store.get_proposal(id).await?));
        };
        let generation = {
            let inner = self.inner.lock().expect("proposal cache lock");
            if let Some(proposal) = inner.by_id.get(&key) {
                if open_too || !is_open(proposal) {
                    return Ok(proposal.clone());
                }
            }
            inner.generation
        };
        let proposal = Arc::new(store.get_proposal(id).await?);
        let mut inner = self.inner.lock().expect("proposal cache lock");
        let kept_open = inner.by_id.get(&key).map(|p| is_open(p));
        let keep = inner.generation == generation
            && (kept_open.is_none() || (kept_open == Some(true) && !is_open(&proposal)));
        if keep {
            if !is_open(&proposal) {
                if inner.closed.len() >= CLOSED_PROPOSALS_KEPT {
                    if let Some(oldest) = inner.closed.pop_front() {
                        inner.by_id.remove(&oldest);
                    }
                }
                inner.closed.push_back(key);
            }
            inner.by_id.insert(key, proposal.clone());
        }
        Ok(proposal)
    }

    /// Forgets proposal `id` (after it was closed, or a close of it was tried); `"*"` forgets
    /// every proposal.
    pub fn invalidate(&self, id: &str) {
        let mut inner = self.inner.lock().expect("proposal cache lock");
        inner.generation += 1;
        match id.parse::<u64>() {
            Ok(key) => {
                if inner.by_id.remove(&key).is_some() {
                    inner.closed.retain(|k| *k != key);
                }
            }
            Err(_) => {
                inner.by_id.clear();
                inner.closed.clear();
            }
        }
    }
}

fn is_open(proposal: &Proposal) -> bool {
    proposal.state == ProposalState::Open as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_proposals_are_bounded() {
        let cache = ProposalCache::default();
        let mut inner = cache.inner.lock().unwrap();
        for key in 0..3 {
            inner.closed.push_back(key);
            inner.by_id.insert(key, Arc::new(Proposal::default()));
        }
        drop(inner);
        cache.invalidate("1");
        let inner = cache.inner.lock().unwrap();
        assert_eq!(inner.closed, [0, 2]);
        assert_eq!(inner.by_id.len(), 2);
    }
}
