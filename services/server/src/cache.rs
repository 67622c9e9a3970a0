//! What the ballot path would otherwise read from the store on every ballot, kept in memory:
//! the member list (changed only by `CreateMember` and `UpdateMember`, which invalidate it) and
//! open proposals (which never change while open; closing or withdrawing one invalidates it).
//!
//! The server is the store's only writer, so these stay exact as long as every write that
//! changes them invalidates them after the store has committed it. A read that raced with an
//! invalidation does not install what it read: each cache has a generation, bumped by every
//! invalidation, and a value loaded under an older generation is returned but not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accord_proto::v1::{Member, Proposal, ProposalState};
use accord_store::{Store, StoreError, StoreResult};

/// The members, ordered by code, as `Store::all_members` returns them.
#[derive(Debug, Default)]
pub struct MemberCache {
    inner: Mutex<(u64, Option<Arc<Vec<Member>>>)>,
}

impl MemberCache {
    /// Every member, ordered by code.
    pub async fn all(&self, store: &dyn Store) -> StoreResult<Arc<Vec<Member>>> {
        let generation = {
            let inner = self.inner.lock().expect("member cache lock");
            if let Some(members) = &inner.1 {
                return Ok(members.clone());
            }
            inner.0
        };
        let members = Arc::new(store.all_members().await?);
        let mut inner = self.inner.lock().expect("member cache lock");
        if inner.0 == generation {
            inner.1 = Some(members.clone());
        }
        Ok(members)
    }

    /// What `read` makes of the member with `code`, or the store's `NotFound`.
    pub async fn with<T>(
        &self,
        store: &dyn Store,
        code: &str,
        read: impl FnOnce(&Member) -> T,
    ) -> StoreResult<T> {
        let members = self.all(store).await?;
        members
            .binary_search_by(|m| m.code.as_str().cmp(code))
            .map(|i| read(&members[i]))
            .map_err(|_| StoreError::NotFound {
                kind: "member",
                id: code.to_owned(),
            })
    }

    /// Forgets the members (after a member was created or updated).
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock().expect("member cache lock");
        inner.0 += 1;
        inner.1 = None;
    }
}

/// Open proposals by number ("3" and "03" are the same proposal).
#[derive(Debug, Default)]
pub struct ProposalCache {
    inner: Mutex<(u64, HashMap<u64, Arc<Proposal>>)>,
}

impl ProposalCache {
    /// Proposal `id` ("3"): from the cache while it is open, else from the store.
    pub async fn get(&self, store: &dyn Store, id: &str) -> StoreResult<Arc<Proposal>> {
        let Ok(key) = id.parse::<u64>() else {
            return Ok(Arc::new(store.get_proposal(id).await?));
        };
        let generation = {
            let inner = self.inner.lock().expect("proposal cache lock");
            if let Some(proposal) = inner.1.get(&key) {
                return Ok(proposal.clone());
            }
            inner.0
        };
        let proposal = Arc::new(store.get_proposal(id).await?);
        if proposal.state == ProposalState::Open as i32 {
            let mut inner = self.inner.lock().expect("proposal cache lock");
            if inner.0 == generation {
                inner.1.insert(key, proposal.clone());
            }
        }
        Ok(proposal)
    }

    /// Forgets proposal `id` (after it was closed, or a close of it was tried).
    pub fn invalidate(&self, id: &str) {
        let mut inner = self.inner.lock().expect("proposal cache lock");
        inner.0 += 1;
        match id.parse::<u64>() {
            Ok(key) => {
                inner.1.remove(&key);
            }
            Err(_) => inner.1.clear(),
        }
    }
}
