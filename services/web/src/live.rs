//! `GET /proposals/{id}/events`: a proposal's events as Server-Sent Events, from the same
//! [`EventHub`](accord_server::events::EventHub) that feeds `WatchProposal`.
//!
//! The stream subscribes first and reads the current ballots second, so no ballot falls between
//! the page and the stream: the first event (`snapshot`) carries every current choice and the
//! page applies it. Then `ballot` for each ballot cast, `silence-broken`, and `decided` or
//! `withdrawn`, after which the stream ends. A browser that falls more than the hub's capacity
//! behind gets `resync` (reload) and the stream ends; so does every stream when the server
//! begins shutting down. Each event's data is a small JSON object; nothing is sent that the
//! proposal page does not already show to anyone.

use std::convert::Infallible;
use std::time::Duration;

use accord_proto::v1::{ProposalEventType, ProposalState, WatchProposalResponse};
use accord_server::proposals::state_word;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::Web;
use crate::error::WebError;
use crate::layout::{choice_word, id_of, percent, position};

fn ballot_event(event: &WatchProposalResponse) -> Option<serde_json::Value> {
    let ballot = event.ballot.as_ref()?;
    Some(json!({
        "member": id_of(&ballot.member),
        "choice": choice_word(ballot.choice),
        "position": position(&ballot.position),
        "salience": ballot.salience,
        "reason": ballot.reason,
    }))
}

fn to_sse(event: &WatchProposalResponse) -> Option<(Event, bool)> {
    let kind = ProposalEventType::try_from(event.r#type).ok()?;
    let state = event
        .proposal
        .as_ref()
        .map(|p| state_word(p.state))
        .unwrap_or("open");
    let (name, data, last) = match kind {
        ProposalEventType::BallotCast => ("ballot", ballot_event(event)?, false),
        ProposalEventType::SilenceBroken => ("silence-broken", ballot_event(event)?, false),
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
                true,
            )
        }
        ProposalEventType::Withdrawn => ("withdrawn", json!({ "state": state }), true),
        _ => return None,
    };
    Some((Event::default().event(name).data(data.to_string()), last))
}

/// `GET /proposals/{id}/events`.
pub async fn events(
    State(web): State<Web>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    if id.is_empty() || id.len() > 19 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(WebError::not_found("proposal ids are numbers"));
    }
    let app = web.app.clone();
    // Subscribe before reading, so that no event falls between the snapshot and the stream.
    let mut receiver = app.events.subscribe(&id);
    let proposal = app
        .get_proposal(&format!("proposals/{id}"))
        .await
        .map_err(tonic::Status::from)?;
    let ballots = app
        .store
        .last_ballots(&id)
        .await
        .map_err(|e| tonic::Status::from(accord_server::error::DomainError::from(e)))?;
    let open = proposal.state == ProposalState::Open as i32;
    if !open {
        // A closed proposal has no more events: keep no channel for it (as WatchProposal).
        app.events.close(&id);
    }
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
        if tx.send(first).await.is_err() || !open {
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
                Ok(event) => {
                    if let Some((sse, last)) = to_sse(&event) {
                        if tx.send(sse).await.is_err() || last {
                            return;
                        }
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
