//! Proposal events for `WatchProposal`: one broadcast channel per watched proposal.

use std::collections::HashMap;
use std::sync::Mutex;

use accord_proto::v1::WatchProposalResponse;
use tokio::sync::broadcast;

/// How many events a slow watcher may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;

/// Publishes proposal events to whoever watches them.
#[derive(Debug, Default)]
pub struct EventHub {
    channels: Mutex<HashMap<String, broadcast::Sender<WatchProposalResponse>>>,
}

impl EventHub {
    /// Subscribes to the events of proposal `id`.
    pub fn subscribe(&self, id: &str) -> broadcast::Receiver<WatchProposalResponse> {
        let mut channels = self.channels.lock().expect("event hub lock");
        channels
            .entry(id.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }

    /// Whether anybody watches proposal `id`.
    pub fn is_watched(&self, id: &str) -> bool {
        self.channels
            .lock()
            .expect("event hub lock")
            .get(id)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Publishes an event on proposal `id` (dropped if nobody watches).
    pub fn publish(&self, id: &str, event: WatchProposalResponse) {
        let mut channels = self.channels.lock().expect("event hub lock");
        if let Some(sender) = channels.get(id) {
            if sender.send(event).is_err() {
                channels.remove(id); // nobody is listening any more
            }
        }
    }

    /// Publishes the event `make` builds on proposal `id`, building it only if somebody
    /// watches.
    pub fn publish_with(&self, id: &str, make: impl FnOnce() -> WatchProposalResponse) {
        let mut channels = self.channels.lock().expect("event hub lock");
        if let Some(sender) = channels.get(id) {
            if sender.send(make()).is_err() {
                channels.remove(id); // nobody is listening any more
            }
        }
    }

    /// Forgets proposal `id` once it is closed and its last event published.
    pub fn close(&self, id: &str) {
        self.channels.lock().expect("event hub lock").remove(id);
    }
}
