//! `GET /proposals/{id}/events`: a proposal's events as Server-Sent Events, from the same
//! [`EventHub`](accord_server::events::EventHub) that feeds `WatchProposal`.
//!
//! **Rooms.** However many pages follow a proposal, the hub has one subscriber for it: the
//! room's task, which gathers the ballots that arrive during a tick ([`TICK`], 200 ms; the
//! latest ballot of each member wins), encodes them once as one `ballots` event and hands that
//! to every page. So the work per ballot does not grow with the pages, and the work per page is
//! at most five events a second however fast ballots arrive. The decision (`decided`) or the
//! withdrawal (`withdrawn`) goes out at once, after the ballots before it, and ends the room and
//! the streams. A room ends when its last page goes, too.
//!
//! **No ballot falls between the page and the stream.** A stream joins its room first and reads
//! the current ballots second: its first event (`snapshot`) carries every current choice, and
//! a ballot in both is simply applied twice. A page that falls more than the room's capacity
//! behind gets `resync` (the page reloads) and its stream ends; every stream ends when the
//! server begins shutting down (`shutdown`). Each event's data is a small JSON object with
//! nothing the proposal page does not already show to anyone.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_proto::v1::{ProposalEventType, ProposalState, WatchProposalResponse};
use accord_server::app::App;
use accord_server::proposals::state_word;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::Web;
use crate::error::WebError;
use crate::layout::{choice_word, id_of, percent, position};

/// How often a room sends the ballots gathered since the last tick.
pub const TICK: Duration = Duration::from_millis(200);
/// How many events a page may fall behind its room before it is told to reload (about 50 s of
/// ticks).
const PAGE_CAPACITY: usize = 256;

/// One event for the pages of a room; `last` ends their streams.
#[derive(Clone)]
struct PageEvent {
    event: Event,
    last: bool,
}

/// The rooms: one per proposal that pages follow.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, broadcast::Sender<PageEvent>>>,
}

impl Rooms {
    /// Joins the room of proposal `id`, opening it (one hub subscription, one task) if needed.
    fn join(self: &Arc<Self>, app: &Arc<App>, id: &str) -> broadcast::Receiver<PageEvent> {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if let Some(room) = rooms.get(id) {
            return room.subscribe();
        }
        let (room, page) = broadcast::channel(PAGE_CAPACITY);
        // Subscribe to the hub now, before the page reads its snapshot.
        let hub = app.events.subscribe(id);
        rooms.insert(id.to_string(), room.clone());
        tokio::spawn(run_room(
            self.clone(),
            app.clone(),
            id.to_string(),
            hub,
            room,
        ));
        page
    }

    /// Closes the room of `id` if no page is left in it (or `always`); true if closed.
    fn close(&self, id: &str, room: &broadcast::Sender<PageEvent>, always: bool) -> bool {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if always || room.receiver_count() == 0 {
            if rooms.get(id).is_some_and(|r| r.same_channel(room)) {
                rooms.remove(id);
            }
            return true;
        }
        false
    }

    /// How many proposals pages follow now.
    pub fn open_rooms(&self) -> usize {
        self.rooms.lock().expect("rooms lock").len()
    }
}

/// A room's task: gathers hub events and sends them to the pages once per tick.
async fn run_room(
    rooms: Arc<Rooms>,
    app: Arc<App>,
    id: String,
    mut hub: broadcast::Receiver<WatchProposalResponse>,
    room: broadcast::Sender<PageEvent>,
) {
    let mut shutting_down = app.shutting_down.subscribe();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ballots: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut silence_broken: Vec<String> = Vec::new();
    let flush = |ballots: &mut BTreeMap<String, serde_json::Value>, silence: &mut Vec<String>| {
        if !ballots.is_empty() {
            let data = json!({ "ballots": ballots.values().collect::<Vec<_>>() });
            let _ = room.send(PageEvent {
                event: Event::default().event("ballots").data(data.to_string()),
                last: false,
            });
            ballots.clear();
        }
        if !silence.is_empty() {
            let data = json!({ "members": silence });
            let _ = room.send(PageEvent {
                event: Event::default()
                    .event("silence-broken")
                    .data(data.to_string()),
                last: false,
            });
            silence.clear();
        }
    };
    loop {
        tokio::select! {
            received = hub.recv() => match received {
                Ok(event) => match ProposalEventType::try_from(event.r#type) {
                    Ok(ProposalEventType::BallotCast) => {
                        if let Some(b) = ballot_json(&event) {
                            ballots.insert(b["member"].as_str().unwrap_or("").to_string(), b);
                        }
                    }
                    Ok(ProposalEventType::SilenceBroken) => {
                        if let Some(b) = &event.ballot {
                            silence_broken.push(id_of(&b.member).to_string());
                        }
                    }
                    Ok(ProposalEventType::Decided | ProposalEventType::Withdrawn) => {
                        flush(&mut ballots, &mut silence_broken);
                        if let Some(event) = final_event(&event) {
                            let _ = room.send(PageEvent { event, last: true });
                        }
                        rooms.close(&id, &room, true);
                        return;
                    }
                    _ => {}
                },
                Err(RecvError::Lagged(missed)) => {
                    // Cannot happen unless the task is starved; the pages reload.
                    let data = json!({ "missed": missed }).to_string();
                    let _ = room.send(PageEvent { event: Event::default().event("resync").data(data), last: true });
                }
                Err(RecvError::Closed) => {
                    flush(&mut ballots, &mut silence_broken);
                    rooms.close(&id, &room, true);
                    return;
                }
            },
            _ = tick.tick() => {
                flush(&mut ballots, &mut silence_broken);
                if rooms.close(&id, &room, false) {
                    return;
                }
            }
            _ = async { shutting_down.wait_for(|down| *down).await.is_ok() } => {
                rooms.close(&id, &room, true);
                return;
            }
        }
    }
}

fn ballot_json(event: &WatchProposalResponse) -> Option<serde_json::Value> {
    let ballot = event.ballot.as_ref()?;
    Some(json!({
        "member": id_of(&ballot.member),
        "choice": choice_word(ballot.choice),
        "position": position(&ballot.position),
        "salience": ballot.salience,
        "reason": ballot.reason,
    }))
}

/// The `decided` or `withdrawn` event.
fn final_event(event: &WatchProposalResponse) -> Option<Event> {
    let state = event
        .proposal
        .as_ref()
        .map(|p| state_word(p.state))
        .unwrap_or("closed");
    let (name, data) = match ProposalEventType::try_from(event.r#type).ok()? {
        ProposalEventType::Decided => {
            let decision = event
                .decision
                .as_ref()
                .or_else(|| event.proposal.as_ref().and_then(|p| p.decision.as_ref()));
            (
                "decided",
                json!({
                    "state": state,
                    "outcome": decision.map(|d| crate::layout::enum_word(
                        accord_proto::v1::Outcome::try_from(d.outcome).unwrap_or_default().as_str_name(),
                        "OUTCOME_")),
                    "support": decision.map(|d| percent(d.support_share)),
                }),
            )
        }
        ProposalEventType::Withdrawn => ("withdrawn", json!({ "state": state })),
        _ => return None,
    };
    Some(Event::default().event(name).data(data.to_string()))
}

/// `GET /proposals/{id}/events`.
pub async fn events(
    State(web): State<Web>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    use accord_proto::v1::proposal_service_server::ProposalService as _;
    if id.is_empty() || id.len() > 19 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(WebError::not_found("proposal ids are numbers"));
    }
    // Read the proposal through the services with the caller's credential: whoever may not
    // read it (not signed in, on a secured server) gets the services' answer, not a stream.
    let caller = crate::session::caller(&web, &headers).await;
    let app = web.app.clone();
    let proposal = web
        .api
        .get_proposal(caller.request(accord_proto::v1::GetProposalRequest {
            name: format!("proposals/{id}"),
        }))
        .await?
        .into_inner()
        .proposal
        .ok_or_else(|| WebError::not_found(format!("no proposal {id}")))?;
    let ballots = app
        .store
        .last_ballots(&id)
        .await
        .map_err(|e| tonic::Status::from(accord_server::error::DomainError::from(e)))?;
    let open = proposal.state == ProposalState::Open as i32;
    // Join before reading the ballots, so that no ballot falls between the snapshot and the
    // stream. A closed proposal has no more events: its page gets the snapshot only.
    let mut receiver = open.then(|| web.rooms.join(&app, &id));
    let snapshot = json!({
        "state": state_word(proposal.state),
        "ballots": ballots.iter().map(|b| json!({
            "member": id_of(&b.member),
            "choice": choice_word(b.choice),
            "position": position(&b.position),
            "salience": b.salience,
            "reason": b.reason,
        })).collect::<Vec<_>>(),
    });
    let mut shutting_down = app.shutting_down.subscribe();
    let stream = async_stream(move |tx| async move {
        let first = Event::default()
            .event("snapshot")
            .data(snapshot.to_string());
        let Some(receiver) = receiver.as_mut() else {
            let _ = tx.send(first).await;
            return;
        };
        if tx.send(first).await.is_err() {
            return;
        }
        loop {
            let received = tokio::select! {
                received = receiver.recv() => received,
                _ = tx.closed() => return, // the browser went away
                _ = async { shutting_down.wait_for(|down| *down).await.is_ok() } => {
                    let _ = tx.send(Event::default().event("shutdown").data("{}")).await;
                    return;
                }
            };
            match received {
                Ok(page) => {
                    if tx.send(page.event).await.is_err() || page.last {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let data = json!({ "missed": missed }).to_string();
                    let _ = tx.send(Event::default().event("resync").data(data)).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task: `body` sends events until it returns or the client goes away.
fn async_stream<F, Fut>(body: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(body(tx));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}
