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
use crate::auth::Caller;
use crate::error::DomainError;
use crate::limits;
use crate::policies::LoadedPolicy;
use crate::proposals::proposal_id;
use crate::time;
use accord_store::actor::acting_as;
use accord_store::{AuditEvent, Json};

/// The services, sharing one [`App`].
#[derive(Clone)]
pub struct Api(pub Arc<App>);

type Reply<T> = Result<Response<T>, Status>;

impl Api {
    /// Authenticates the caller and checks the RPC's rule in the role table (`auth.rs`).
    pub(crate) async fn enter<T>(
        &self,
        request: &Request<T>,
        method: &str,
    ) -> Result<Caller, Status> {
        let read_only = self.0.read_only.get().map(String::as_str);
        Ok(self
            .0
            .auth
            .authorize(&*self.0.store, request, method, read_only)
            .await?)
    }

    /// Records a policy change (with the library's SHA-256) in the audit log.
    async fn audit_policy(&self, caller: &Caller, kind: &str, policy: &LoadedPolicy) {
        let identity = policy.identity();
        let detail = Json::new()
            .str("policy", &identity.policy_id)
            .str("version", &identity.version)
            .str("library_sha256", &identity.library_sha256)
            .str("file_name", &policy.to_proto(false).file_name)
            .finish();
        let subject = format!("policies/{}", policy.id());
        let event = AuditEvent::event(kind, &subject, detail);
        if let Err(e) = acting_as(caller.actor(), self.0.store.append_audit(event)).await {
            tracing::warn!(error = %e, "could not record a policy change in the audit log");
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
        self.enter(&request, "accord.v1.MemberService/ListMembers")
            .await?;
        let r = request.into_inner();
        let status: MemberStatus = parse_enum("status", r.status)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (status != MemberStatus::Unspecified).then_some(status);
        let result = self.0.list_members(filter, page).await?;
        ok(ListMembersResponse {
            members: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_member(&self, request: Request<GetMemberRequest>) -> Reply<GetMemberResponse> {
        self.enter(&request, "accord.v1.MemberService/GetMember")
            .await?;
        let name = request.into_inner().name;
        let code = parse_name("name", MEMBERS, &name)?;
        let member = self.0.get_member(code).await?;
        ok(GetMemberResponse {
            member: Some(member),
        })
    }

    async fn create_member(
        &self,
        request: Request<CreateMemberRequest>,
    ) -> Reply<CreateMemberResponse> {
        let caller = self
            .enter(&request, "accord.v1.MemberService/CreateMember")
            .await?;
        let member = request.into_inner().member;
        if let Some(record) = &member {
            limits::member(record)?;
        }
        let member = acting_as(caller.actor(), self.0.create_member(member)).await?;
        ok(CreateMemberResponse {
            member: Some(member),
        })
    }

    async fn update_member(
        &self,
        request: Request<UpdateMemberRequest>,
    ) -> Reply<UpdateMemberResponse> {
        let caller = self
            .enter(&request, "accord.v1.MemberService/UpdateMember")
            .await?;
        let r = request.into_inner();
        if let Some(record) = &r.member {
            limits::member(record)?;
        }
        let member = acting_as(
            caller.actor(),
            self.0.update_member(r.member, r.update_mask),
        )
        .await?;
        ok(UpdateMemberResponse {
            member: Some(member),
        })
    }

    async fn delete_member(
        &self,
        request: Request<DeleteMemberRequest>,
    ) -> Reply<DeleteMemberResponse> {
        let caller = self
            .enter(&request, "accord.v1.MemberService/DeleteMember")
            .await?;
        let name = request.into_inner().name;
        limits::text("name", &name, limits::MAX_NAME)?;
        let member = acting_as(caller.actor(), self.0.delete_member(&name)).await?;
        ok(DeleteMemberResponse {
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
        self.enter(&request, "accord.v1.PartnerService/ListPartners")
            .await?;
        let r = request.into_inner();
        let participation: SummitParticipation =
            parse_enum("summit_participation", r.summit_participation)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (participation != SummitParticipation::Unspecified).then_some(participation);
        let result = self.0.list_partners(filter, page).await?;
        ok(ListPartnersResponse {
            partners: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_partner(&self, request: Request<GetPartnerRequest>) -> Reply<GetPartnerResponse> {
        self.enter(&request, "accord.v1.PartnerService/GetPartner")
            .await?;
        let name = request.into_inner().name;
        let code = parse_name("name", PARTNERS, &name)?;
        let partner = self.0.get_partner(code).await?;
        ok(GetPartnerResponse {
            partner: Some(partner),
        })
    }

    async fn create_partner(
        &self,
        request: Request<CreatePartnerRequest>,
    ) -> Reply<CreatePartnerResponse> {
        let caller = self
            .enter(&request, "accord.v1.PartnerService/CreatePartner")
            .await?;
        let partner = request.into_inner().partner;
        if let Some(record) = &partner {
            limits::partner(record)?;
        }
        let partner = acting_as(caller.actor(), self.0.create_partner(partner)).await?;
        ok(CreatePartnerResponse {
            partner: Some(partner),
        })
    }

    async fn update_partner(
        &self,
        request: Request<UpdatePartnerRequest>,
    ) -> Reply<UpdatePartnerResponse> {
        let caller = self
            .enter(&request, "accord.v1.PartnerService/UpdatePartner")
            .await?;
        let r = request.into_inner();
        if let Some(record) = &r.partner {
            limits::partner(record)?;
        }
        let partner = acting_as(
            caller.actor(),
            self.0.update_partner(r.partner, r.update_mask),
        )
        .await?;
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
        self.enter(&request, "accord.v1.MissionService/ListMissions")
            .await?;
        let r = request.into_inner();
        let status: MissionStatus = parse_enum("status", r.status)?;
        let page = page(r.page_size, &r.page_token, DEFAULT_PAGE_SIZE)?;
        let filter = (status != MissionStatus::Unspecified).then_some(status);
        let result = self.0.list_missions(filter, page).await?;
        ok(ListMissionsResponse {
            missions: result.items,
            next_page_token: result.next_token,
            total_size: result.total as i32,
        })
    }

    async fn get_mission(&self, request: Request<GetMissionRequest>) -> Reply<GetMissionResponse> {
        self.enter(&request, "accord.v1.MissionService/GetMission")
            .await?;
        let name = request.into_inner().name;
        let id = parse_name("name", MISSIONS, &name)?;
        let mission = self.0.get_mission(id).await?;
        ok(GetMissionResponse {
            mission: Some(mission),
        })
    }

    async fn create_mission(
        &self,
        request: Request<CreateMissionRequest>,
    ) -> Reply<CreateMissionResponse> {
        let caller = self
            .enter(&request, "accord.v1.MissionService/CreateMission")
            .await?;
        let mission = request.into_inner().mission;
        if let Some(record) = &mission {
            limits::mission(record)?;
        }
        let mission = acting_as(caller.actor(), self.0.create_mission(mission)).await?;
        ok(CreateMissionResponse {
            mission: Some(mission),
        })
    }

    async fn update_mission(
        &self,
        request: Request<UpdateMissionRequest>,
    ) -> Reply<UpdateMissionResponse> {
        let caller = self
            .enter(&request, "accord.v1.MissionService/UpdateMission")
            .await?;
        let r = request.into_inner();
        if let Some(record) = &r.mission {
            limits::mission(record)?;
        }
        let mission = acting_as(
            caller.actor(),
            self.0.update_mission(r.mission, r.update_mask),
        )
        .await?;
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
        let caller = self
            .enter(&request, "accord.v1.ProposalService/CreateProposal")
            .await?;
        let mut proposal = request.into_inner().proposal;
        if let Some(p) = proposal.as_mut() {
            limits::proposal(p)?;
            if let Some(policy) = &p.policy {
                limits::evaluation_parameters("proposal.policy", policy)?;
            }
            p.sponsor = caller.act_for("proposal.sponsor", &p.sponsor)?;
        }
        let proposal = acting_as(caller.actor(), self.0.create_proposal(proposal)).await?;
        ok(CreateProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn get_proposal(
        &self,
        request: Request<GetProposalRequest>,
    ) -> Reply<GetProposalResponse> {
        self.enter(&request, "accord.v1.ProposalService/GetProposal")
            .await?;
        let proposal = self.0.get_proposal(&request.into_inner().name).await?;
        ok(GetProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn list_proposals(
        &self,
        request: Request<ListProposalsRequest>,
    ) -> Reply<ListProposalsResponse> {
        self.enter(&request, "accord.v1.ProposalService/ListProposals")
            .await?;
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
        let caller = self
            .enter(&request, "accord.v1.ProposalService/CastBallot")
            .await?;
        let mut r = request.into_inner();
        limits::text("proposal", &r.proposal, limits::MAX_NAME)?;
        if let Some(b) = r.ballot.as_mut() {
            limits::ballot("ballot", b)?;
            b.member = caller.act_for("ballot.member", &b.member)?;
        }
        let (ballot, proposal) =
            acting_as(caller.actor(), self.0.cast_ballot(&r.proposal, r.ballot)).await?;
        ok(CastBallotResponse {
            ballot: Some(ballot),
            proposal: Some(proposal),
        })
    }

    async fn list_ballots(
        &self,
        request: Request<ListBallotsRequest>,
    ) -> Reply<ListBallotsResponse> {
        self.enter(&request, "accord.v1.ProposalService/ListBallots")
            .await?;
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
        let caller = self
            .enter(&request, "accord.v1.ProposalService/WithdrawProposal")
            .await?;
        let r = request.into_inner();
        limits::text("requester", &r.requester, limits::MAX_NAME)?;
        let requester = caller.act_for("requester", &r.requester)?;
        let proposal = acting_as(caller.actor(), self.0.withdraw(&r.name, &requester)).await?;
        ok(WithdrawProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn close_proposal(
        &self,
        request: Request<CloseProposalRequest>,
    ) -> Reply<CloseProposalResponse> {
        let caller = self
            .enter(&request, "accord.v1.ProposalService/CloseProposal")
            .await?;
        let name = request.into_inner().name;
        let proposal = acting_as(caller.actor(), self.0.close_now(&name)).await?;
        ok(CloseProposalResponse {
            proposal: Some(proposal),
        })
    }

    async fn evaluate_proposal(
        &self,
        request: Request<EvaluateProposalRequest>,
    ) -> Reply<EvaluateProposalResponse> {
        let caller = self
            .enter(&request, "accord.v1.ProposalService/EvaluateProposal")
            .await?;
        let r = request.into_inner();
        limits::evaluation(&r)?;
        let calls = if r.policies.is_empty() {
            self.0.policies.healthy_ids().len()
        } else {
            r.policies.len()
        };
        let _admitted = self.0.evaluations.admit(&caller.actor(), calls).await?;
        ok(self.0.evaluate(r).await?)
    }

    async fn evaluate_batch(
        &self,
        request: Request<EvaluateBatchRequest>,
    ) -> Reply<EvaluateBatchResponse> {
        let caller = self
            .enter(&request, "accord.v1.ProposalService/EvaluateBatch")
            .await?;
        let r = request.into_inner();
        limits::evaluation_batch(&r)?;
        // A batch runs several items at once: it takes as many slots as the widest evaluation.
        let _admitted = self
            .0
            .evaluations
            .admit(&caller.actor(), limits::MAX_EVALUATION_POLICIES)
            .await?;
        let results = self.0.evaluate_batch(r).await?;
        ok(EvaluateBatchResponse { results })
    }

    type WatchProposalStream = WatchStream;

    async fn watch_proposal(
        &self,
        request: Request<WatchProposalRequest>,
    ) -> Reply<Self::WatchProposalStream> {
        self.enter(&request, "accord.v1.ProposalService/WatchProposal")
            .await?;
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
        self.enter(&request, "accord.v1.PolicyService/ListPolicies")
            .await?;
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
        self.enter(&request, "accord.v1.PolicyService/GetPolicy")
            .await?;
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.get_any(id)?;
        ok(GetPolicyResponse {
            policy: Some(policy.to_proto(self.0.policies.is_default(id))),
        })
    }

    async fn load_policy(&self, request: Request<LoadPolicyRequest>) -> Reply<LoadPolicyResponse> {
        let caller = self
            .enter(&request, "accord.v1.PolicyService/LoadPolicy")
            .await?;
        let r = request.into_inner();
        limits::text("file_name", &r.file_name, limits::MAX_NAME)?;
        let isolation = isolation("isolation", r.isolation)?;
        let policy = self.0.policies.load(&r.file_name, isolation).await?;
        self.0.policy_changed("load", &policy).await?;
        self.audit_policy(&caller, "policy_loaded", &policy).await;
        let is_default = self.0.policies.is_default(policy.id());
        ok(LoadPolicyResponse {
            policy: Some(policy.to_proto(is_default)),
        })
    }

    async fn replace_policy(
        &self,
        request: Request<ReplacePolicyRequest>,
    ) -> Reply<ReplacePolicyResponse> {
        let caller = self
            .enter(&request, "accord.v1.PolicyService/ReplacePolicy")
            .await?;
        let r = request.into_inner();
        let id = self.policy_id("name", &r.name)?;
        limits::text("file_name", &r.file_name, limits::MAX_NAME)?;
        let isolation = isolation("isolation", r.isolation)?;
        let (policy, previous) = self.0.policies.replace(id, &r.file_name, isolation).await?;
        self.audit_policy(&caller, "policy_replaced", &policy).await;
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
        let caller = self
            .enter(&request, "accord.v1.PolicyService/DisablePolicy")
            .await?;
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.disable(id).await?;
        self.audit_policy(&caller, "policy_disabled", &policy).await;
        self.0.policy_changed("disable", &policy).await?;
        ok(DisablePolicyResponse {
            policy: Some(policy.to_proto(self.0.policies.is_default(id))),
        })
    }

    async fn set_default_policy(
        &self,
        request: Request<SetDefaultPolicyRequest>,
    ) -> Reply<SetDefaultPolicyResponse> {
        let caller = self
            .enter(&request, "accord.v1.PolicyService/SetDefaultPolicy")
            .await?;
        let name = request.into_inner().name;
        let id = self.policy_id("name", &name)?;
        let policy = self.0.policies.set_default(id).await?;
        acting_as(
            caller.actor(),
            self.0.store.set_setting("default_policy", id),
        )
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
