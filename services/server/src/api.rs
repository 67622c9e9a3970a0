//! The gRPC services: thin adapters from the accord.v1 services to [`App`]'s domain methods.
//! Every error leaves through `Status::from(DomainError)` (see `error.rs`).

use std::pin::Pin;
use std::sync::Arc;

use accord_proto::names::{MEMBERS, MISSIONS, PARTNERS, POLICIES};
use accord_proto::v1::member_service_server::MemberService;
use accord_proto::v1::mission_service_server::MissionService;
use accord_proto::v1::partner_service_server::PartnerService;
use accord_proto::v1::policy_service_server::PolicyService;
use accord_proto::v1::proposal_service_server::ProposalService;
use accord_proto::v1::*;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::app::{App, DEFAULT_PAGE_SIZE, page, parse_enum, parse_name};
use crate::error::DomainError;
use crate::proposals::proposal_id;
use crate::time;

/// The services, sharing one [`App`].
#[derive(Clone)]
pub struct Api(pub Arc<App>);

type Reply<T> = Result<Response<T>, Status>;

impl Api {
    /// Operator calls need the operator token when one is configured.
    fn operator<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.0.config.operator_token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if given == Some(format!("Bearer {token}").as_str()) {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied(
                "this is an operator call: send `authorization: Bearer <operator token>`".into(),
            )
            .into())
        }
    }

    fn policy_id<'a>(&self, field: &str, name: &'a str) -> Result<&'a str, Status> {
        Ok(parse_name(field, POLICIES, name)?)
    }
}

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

#[tonic::async_trait]
impl MemberService for Api {
    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Reply<ListMembersResponse> {
        let r = request.into_inner();
        let status: MemberStatus = parse_enum("status", r.status)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (status != MemberStatus::Unspecified).then_some(status);
        let result = self
            .0
            .store
            .list_members(filter, page)
            .await
            .map_err(DomainError::from)?;
        ok(ListMembersResponse {
            members: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_member(&self, request: Request<GetMemberRequest>) -> Reply<GetMemberResponse> {
        let name = request.into_inner().name;
        let code = parse_name("name", MEMBERS, &name)?;
        let member = self
            .0
            .store
            .get_member(code)
            .await
            .map_err(DomainError::from)?;
        ok(GetMemberResponse {
            member: Some(member),
        })
    }

    async fn create_member(
        &self,
        request: Request<CreateMemberRequest>,
    ) -> Reply<CreateMemberResponse> {
        self.operator(&request)?;
        let member = self.0.create_member(request.into_inner().member).await?;
        ok(CreateMemberResponse {
            member: Some(member),
        })
    }

    async fn update_member(
        &self,
        request: Request<UpdateMemberRequest>,
    ) -> Reply<UpdateMemberResponse> {
        self.operator(&request)?;
        let r = request.into_inner();
        let member = self.0.update_member(r.member, r.update_mask).await?;
        ok(UpdateMemberResponse {
            member: Some(member),
        })
    }
}

#[tonic::async_trait]
impl PartnerService for Api {
    async fn list_partners(
        &self,
        request: Request<ListPartnersRequest>,
    ) -> Reply<ListPartnersResponse> {
        let r = request.into_inner();
        let participation: SummitParticipation =
            parse_enum("summit_participation", r.summit_participation)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (participation != SummitParticipation::Unspecified).then_some(participation);
        let result = self
            .0
            .store
            .list_partners(filter, page)
            .await
            .map_err(DomainError::from)?;
        ok(ListPartnersResponse {
            partners: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_partner(&self, request: Request<GetPartnerRequest>) -> Reply<GetPartnerResponse> {
        let name = request.into_inner().name;
        let code = parse_name("name", PARTNERS, &name)?;
        let partner = self
            .0
            .store
            .get_partner(code)
            .await
            .map_err(DomainError::from)?;
        ok(GetPartnerResponse {
            partner: Some(partner),
        })
    }

    async fn create_partner(
        &self,
        request: Request<CreatePartnerRequest>,
    ) -> Reply<CreatePartnerResponse> {
        self.operator(&request)?;
        let partner = self.0.create_partner(request.into_inner().partner).await?;
        ok(CreatePartnerResponse {
            partner: Some(partner),
        })
    }

    async fn update_partner(
        &self,
        request: Request<UpdatePartnerRequest>,
    ) -> Reply<UpdatePartnerResponse> {
        self.operator(&request)?;
        let r = request.into_inner();
        let partner = self.0.update_partner(r.partner, r.update_mask).await?;
        ok(UpdatePartnerResponse {
            partner: Some(partner),
        })
    }
}

#[tonic::async_trait]
impl MissionService for Api {
    async fn list_missions(
        &self,
        request: Request<ListMissionsRequest>,
    ) -> Reply<ListMissionsResponse> {
        let r = request.into_inner();
        let status: MissionStatus = parse_enum("status", r.status)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (status != MissionStatus::Unspecified).then_some(status);
        let result = self
            .0
            .store
            .list_missions(filter, page)
            .await
            .map_err(DomainError::from)?;
        ok(ListMissionsResponse {
            missions: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_mission(&self, request: Request<GetMissionRequest>) -> Reply<GetMissionResponse> {
        let name = request.into_inner().name;
        let id = parse_name("name", MISSIONS, &name)?;
        let mission = self
            .0
            .store
            .get_mission(id)
            .await
            .map_err(DomainError::from)?;
        ok(GetMissionResponse {
            mission: Some(mission),
        })
    }

    async fn create_mission(
        &self,
        request: Request<CreateMissionRequest>,
    ) -> Reply<CreateMissionResponse> {
        self.operator(&request)?;
        let mission = self.0.create_mission(request.into_inner().mission).await?;
        ok(CreateMissionResponse {
            mission: Some(mission),
        })
    }

    async fn update_mission(
        &self,
        request: Request<UpdateMissionRequest>,
    ) -> Reply<UpdateMissionResponse> {
        self.operator(&request)?;
        let r = request.into_inner();
        let mission = self.0.update_mission(r.mission, r.update_mask).await?;
        ok(UpdateMissionResponse {
            mission: Some(mission),
        })
    }
}

/// The stream type of `WatchProposal`.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchProposalResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ProposalService for Api {
    async fn create_proposal(
        &self,
        request: Request<CreateProposalRequest>,
    ) -> Reply<CreateProposalResponse> {
        let proposal = self
            .0
            .create_proposal(request.into_inner().proposal)
            .await?;
        ok(CreateProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn get_proposal(
        &self,
        request: Request<GetProposalRequest>,
    ) -> Reply<GetProposalResponse> {
        let proposal = self.0.get_proposal(&request.into_inner().name).await?;
        ok(GetProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn list_proposals(
        &self,
        request: Request<ListProposalsRequest>,
    ) -> Reply<ListProposalsResponse> {
        let r = request.into_inner();
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let result = self
            .0
            .list_proposals(r.state, r.kind, &r.target, page)
            .await?;
        ok(ListProposalsResponse {
            proposals: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn cast_ballot(&self, request: Request<CastBallotRequest>) -> Reply<CastBallotResponse> {
        let r = request.into_inner();
        let (ballot, proposal) = self.0.cast_ballot(&r.proposal, r.ballot).await?;
        ok(CastBallotResponse {
            ballot: Some(ballot),
            proposal: Some(proposal),
        })
    }

    async fn list_ballots(
        &self,
        request: Request<ListBallotsRequest>,
    ) -> Reply<ListBallotsResponse> {
        let r = request.into_inner();
        let id = proposal_id("proposal", &r.proposal)?;
        let page = page(r.page_size, &r.page_token, 100)?;
        self.0
            .store
            .get_proposal(id)
            .await
            .map_err(DomainError::from)?;
        let result = self
            .0
            .store
            .list_ballots(id, page)
            .await
            .map_err(DomainError::from)?;
        ok(ListBallotsResponse {
            ballots: result.items,
            next_page_token: result.next_token,
        })
    }

    async fn withdraw_proposal(
        &self,
        request: Request<WithdrawProposalRequest>,
    ) -> Reply<WithdrawProposalResponse> {
        let r = request.into_inner();
        let proposal = self.0.withdraw(&r.name, &r.requester).await?;
        ok(WithdrawProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn close_proposal(
        &self,
        request: Request<CloseProposalRequest>,
    ) -> Reply<CloseProposalResponse> {
        let proposal = self.0.close_now(&request.into_inner().name).await?;
        ok(CloseProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn evaluate_proposal(
        &self,
        request: Request<EvaluateProposalRequest>,
    ) -> Reply<EvaluateProposalResponse> {
        ok(self.0.evaluate(request.into_inner()).await?)
    }

    async fn evaluate_batch(
        &self,
        request: Request<EvaluateBatchRequest>,
    ) -> Reply<EvaluateBatchResponse> {
        let results = self.0.evaluate_batch(request.into_inner()).await?;
        ok(EvaluateBatchResponse { results })
    }

    type WatchProposalStream = WatchStream;

    async fn watch_proposal(
        &self,
        request: Request<WatchProposalRequest>,
    ) -> Reply<Self::WatchProposalStream> {
        let name = request.into_inner().name;
        let id = proposal_id("name", &name)?.to_string();
        // Subscribe before reading the snapshot, so that no event falls between the two.
        let mut events = self.0.events.subscribe(&id);
        let proposal = self.0.get_proposal(&name).await?;
        let open = proposal.state == ProposalState::Open as i32;
        if !open {
            // A closed proposal has no more events: do not keep a channel for it.
            self.0.events.close(&id);
        }
        let mut shutting_down = self.0.shutting_down.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let snapshot = WatchProposalResponse {
            r#type: ProposalEventType::Snapshot as i32,
            proposal: Some(proposal),
            ballot: None,
            decision: None,
            event_time: Some(time::now()),
        };
        tokio::spawn(async move {
            if tx.send(Ok(snapshot)).await.is_err() || !open {
                return;
            }
            loop {
                let received = tokio::select! {
                    received = events.recv() => Some(received),
                    _ = async { shutting_down.wait_for(|down| *down).await.is_ok() } => None,
                };
                let Some(received) = received else {
                    let _ = tx.send(Err(DomainError::ShuttingDown.into())).await;
                    return;
                };
                match received {
                    Ok(event) => {
                        let last = matches!(
                            ProposalEventType::try_from(event.r#type),
                            Ok(ProposalEventType::Decided | ProposalEventType::Withdrawn)
                        );
                        if tx.send(Ok(event)).await.is_err() || last {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        let status = Status::data_loss(format!(
                            "the watcher fell {missed} events behind; watch again"
                        ));
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        ok(Box::pin(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl PolicyService for Api {
    async fn list_policies(
        &self,
        request: Request<ListPoliciesRequest>,
    ) -> Reply<ListPoliciesResponse> {
        let r = request.into_inner();
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let all = self.0.policies.list();
        let start: usize = if page.token.is_empty() {
            0
        } else {
            all.iter()
                .position(|(p, _)| p.id() == page.token)
                .map(|i| i + 1)
                .ok_or_else(|| {
                    DomainError::invalid(
                        "page_token",
                        format!("`{}` was not issued by this server", page.token),
                    )
                })?
        };
        let items: Vec<_> = all.iter().skip(start).take(page.size).collect();
        let next = if start + items.len() < all.len() {
            items
                .last()
                .map(|(p, _)| p.id().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        ok(ListPoliciesResponse {
            policies: items
                .iter()
                .map(|(p, is_default)| p.to_proto(*is_default))
                .collect(),
            next_page_token: next,
        })
    }

    async fn get_policy(&self, request: Request<GetPolicyRequest>) -> Reply<GetPolicyResponse> {
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.get_any(id)?;
        ok(GetPolicyResponse {
            policy: Some(policy.to_proto(self.0.policies.is_default(id))),
        })
    }

    async fn load_policy(&self, request: Request<LoadPolicyRequest>) -> Reply<LoadPolicyResponse> {
        self.operator(&request)?;
        let r = request.into_inner();
        let isolation = isolation("isolation", r.isolation)?;
        let policy = self.0.policies.load(&r.file_name, isolation).await?;
        self.0.policy_changed("load", &policy).await?;
        let is_default = self.0.policies.is_default(policy.id());
        ok(LoadPolicyResponse {
            policy: Some(policy.to_proto(is_default)),
        })
    }

    async fn replace_policy(
        &self,
        request: Request<ReplacePolicyRequest>,
    ) -> Reply<ReplacePolicyResponse> {
        self.operator(&request)?;
        let r = request.into_inner();
        let id = self.policy_id("name", &r.name)?;
        let isolation = isolation("isolation", r.isolation)?;
        let (policy, previous) = self.0.policies.replace(id, &r.file_name, isolation).await?;
        self.0.policy_changed("replace", &policy).await?;
        ok(ReplacePolicyResponse {
            policy: Some(policy.to_proto(self.0.policies.is_default(id))),
            previous: Some(previous.identity().clone()),
        })
    }

    async fn disable_policy(
        &self,
        request: Request<DisablePolicyRequest>,
    ) -> Reply<DisablePolicyResponse> {
        self.operator(&request)?;
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.disable(id).await?;
        self.0.policy_changed("disable", &policy).await?;
        ok(DisablePolicyResponse {
            policy: Some(policy.to_proto(self.0.policies.is_default(id))),
        })
    }

    async fn set_default_policy(
        &self,
        request: Request<SetDefaultPolicyRequest>,
    ) -> Reply<SetDefaultPolicyResponse> {
        self.operator(&request)?;
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.set_default(id).await?;
        self.0
            .store
            .set_setting("default_policy", id)
            .await
            .map_err(DomainError::from)?;
        self.0.policy_changed("default", &policy).await?;
        ok(SetDefaultPolicyResponse {
            policy: Some(policy.to_proto(true)),
        })
    }
}

/// The isolation a request asks for (`None`: unspecified, the server chooses).
fn isolation(field: &str, value: i32) -> Result<Option<crate::config::Isolation>, DomainError> {
    use crate::config::Isolation;
    match PolicyIsolation::try_from(value) {
        Ok(PolicyIsolation::Unspecified) => Ok(None),
        Ok(PolicyIsolation::InProcess) => Ok(Some(Isolation::InProcess)),
        Ok(PolicyIsolation::Isolated) => Ok(Some(Isolation::Isolated)),
        Err(_) => Err(DomainError::invalid(
            field,
            format!("{value} is not a PolicyIsolation"),
        )),
    }
}
