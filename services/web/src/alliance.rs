//! The alliance pages: the home page, and members (with the weights policies use: defence
//! spending, GDP, population, forces), missions (state and ceiling) and partners
//! (participation). Read through the gRPC services in process.

use accord_proto::v1::member_service_server::MemberService;
use accord_proto::v1::mission_service_server::MissionService;
use accord_proto::v1::partner_service_server::PartnerService;
use accord_proto::v1::{
    GetMemberRequest, ListMembersRequest, ListMissionsRequest, ListPartnersRequest, Member,
    MemberStatus, Mission, MissionArea, MissionStatus, Partner, PartnerCategory,
    SummitParticipation,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use maud::html;

use crate::Web;
use crate::error::WebError;
use crate::layout::{self, date, enum_word};
use crate::session::{self, Caller};

/// Every member (one page of up to 1000: the alliance has 32).
pub async fn members(web: &Web, caller: &Caller) -> Result<Vec<Member>, WebError> {
    Ok(web
        .api
        .list_members(caller.request(ListMembersRequest {
            page_size: 1000,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .members)
}

/// One member by code.
pub async fn member(web: &Web, caller: &Caller, code: &str) -> Result<Member, WebError> {
    web.api
        .get_member(caller.request(GetMemberRequest {
            name: format!("members/{code}"),
        }))
        .await?
        .into_inner()
        .member
        .ok_or_else(|| WebError::not_found(format!("no member {code}")))
}

async fn missions(web: &Web, caller: &Caller) -> Result<Vec<Mission>, WebError> {
    Ok(web
        .api
        .list_missions(caller.request(ListMissionsRequest {
            page_size: 1000,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .missions)
}

async fn partners(web: &Web, caller: &Caller) -> Result<Vec<Partner>, WebError> {
    Ok(web
        .api
        .list_partners(caller.request(ListPartnersRequest {
            page_size: 1000,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .partners)
}

fn attribute(member: &Member, key: &str, decimals: usize) -> String {
    match member.attributes.get(key) {
        Some(v) => format!("{v:.decimals$}"),
        None => "—".to_string(),
    }
}

/// `GET /`: what this is and where to go.
pub async fn home(State(web): State<Web>, headers: HeaderMap) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    let members = members(&web, &caller).await?;
    let policies = web.app.policies.healthy_ids();
    Ok(layout::page(
        "The chamber",
        None,
        html! {
            h1 { "The chamber" }
            p { "accord models how an alliance decides. " (members.len()) " allies; policies loaded: " (policies.join(", ")) "." }
            ul.cards {
                li { a href="/alliance" { "Alliance" } ": members and their weights, missions, partners." }
                li { a href="/proposals" { "Proposals" } ": follow a proposal live, vote as a delegation, compare every policy's verdict." }
                li { a href="/scenarios" { "Scenarios" } ": run a scenario file and see its report and charts." }
                li { a href="/policies" { "Policies" } ": loaded libraries, versions, SHA-256 and health." }
            }
        },
    ))
}

/// `GET /alliance`.
pub async fn page_handler(web: &Web, caller: &Caller) -> Result<Html<String>, WebError> {
    let (members, missions, partners) = (
        members(web, caller).await?,
        missions(web, caller).await?,
        partners(web, caller).await?,
    );
    Ok(layout::page(
        "Alliance",
        Some("/alliance"),
        html! {
            h1 { "Alliance" }
            section aria-labelledby="members-h" {
                h2 #members-h { "Members (" (members.len()) ")" }
                div.scroll tabindex="0" role="region" aria-labelledby="members-h" {
                table #members {
                    caption { "Members with the weights policies use (2024 estimates; see data/nato/SOURCES.md)" }
                    thead { tr {
                        th scope="col" { "Code" } th scope="col" { "Member" } th scope="col" { "Status" }
                        th scope="col" { "Joined" }
                        th scope="col" class="num" { "Defence spending (US$ mn)" }
                        th scope="col" class="num" { "Defence (% GDP)" }
                        th scope="col" class="num" { "GDP (US$ bn)" }
                        th scope="col" class="num" { "Population (mn)" }
                        th scope="col" class="num" { "Armed forces (thousands)" }
                    } }
                    tbody {
                        @for m in &members {
                            tr {
                                th scope="row" { (m.code) }
                                td { (m.display_name) }
                                td { (enum_word(MemberStatus::try_from(m.status).unwrap_or_default().as_str_name(), "MEMBER_STATUS_")) }
                                td { (m.accession_year) }
                                td.num { (attribute(m, "defence_expenditure_usd_mn", 0)) }
                                td.num { (attribute(m, "defence_pct_gdp", 2)) }
                                td.num { (attribute(m, "gdp_usd_bn", 1)) }
                                td.num { (attribute(m, "population_mn", 2)) }
                                td.num { (attribute(m, "armed_forces_personnel_thousands", 1)) }
                            }
                        }
                    }
                }
                }
            }
            section aria-labelledby="missions-h" {
                h2 #missions-h { "Missions (" (missions.len()) ")" }
                table #missions {
                    thead { tr {
                        th scope="col" { "Id" } th scope="col" { "Mission" } th scope="col" { "Location" }
                        th scope="col" { "Area" } th scope="col" { "State" }
                        th scope="col" class="num" { "Personnel ceiling" } th scope="col" { "End date" }
                    } }
                    tbody {
                        @for m in &missions {
                            tr {
                                th scope="row" { (m.id) }
                                td { (m.display_name) }
                                td { (m.location) }
                                td { (enum_word(MissionArea::try_from(m.area).unwrap_or_default().as_str_name(), "MISSION_AREA_")) }
                                td { (enum_word(MissionStatus::try_from(m.status).unwrap_or_default().as_str_name(), "MISSION_STATUS_")) }
                                td.num { (m.personnel_ceiling) }
                                td { (date(&m.end_date)) }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="partners-h" {
                h2 #partners-h { "Partners (" (partners.len()) ")" }
                table #partners {
                    thead { tr {
                        th scope="col" { "Code" } th scope="col" { "Partner" } th scope="col" { "Category" }
                        th scope="col" { "Framework" } th scope="col" { "Summit participation" }
                    } }
                    tbody {
                        @for p in &partners {
                            tr {
                                th scope="row" { (p.code) }
                                td { (p.display_name) }
                                td { (enum_word(PartnerCategory::try_from(p.category).unwrap_or_default().as_str_name(), "PARTNER_CATEGORY_")) }
                                td { (p.framework) }
                                td { (enum_word(SummitParticipation::try_from(p.summit_participation).unwrap_or_default().as_str_name(), "SUMMIT_PARTICIPATION_")) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /alliance`.
pub async fn page(State(web): State<Web>, headers: HeaderMap) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    page_handler(&web, &caller).await
}
