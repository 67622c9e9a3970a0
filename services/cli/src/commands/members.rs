//! `accord members list|show`: the allies.

use accord_proto::names::MEMBERS;
use accord_proto::v1::{
    GetMemberRequest, ListMembersRequest, ListMembersResponse, Member, MemberStatus,
};

use super::collect_pages;
use crate::cli::{GlobalOptions, MembersCommand};
use crate::client::Client;
use crate::output::{self, optional, print, print_fields, print_json};

/// Runs a `members` subcommand.
pub async fn run(
    client: &Client,
    global: &GlobalOptions,
    command: MembersCommand,
) -> anyhow::Result<()> {
    match command {
        MembersCommand::List { status, page } => {
            let status = status.map(MemberStatus::from).unwrap_or_default() as i32;
            let members = collect_pages(|page_token| {
                let mut service = client.members();
                let request = ListMembersRequest {
                    page_size: page.size(),
                    page_token,
                    status,
                };
                async move {
                    let r = service.list_members(request).await?.into_inner();
                    Ok((r.members, r.next_page_token))
                }
            })
            .await?;
            if global.json {
                print_json(&accord_proto::json::to_json(&ListMembersResponse {
                    total_size: members.len() as i32,
                    members,
                    next_page_token: String::new(),
                }));
            } else {
                print_list(&members);
            }
        }
        MembersCommand::Show { member } => {
            let name = output::resource_name(MEMBERS, &member, true);
            let response = client
                .members()
                .get_member(GetMemberRequest { name })
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(member) = &response.member {
                print_member(member);
            }
        }
    }
    Ok(())
}

fn attribute(member: &Member, key: &str) -> Option<f64> {
    member.attributes.get(key).copied()
}

fn print_list(members: &[Member]) {
    let mut table = output::table(&[
        "Code",
        "Name",
        "Joined",
        "Status",
        "Defence $bn",
        "% GDP",
        "GDP $bn",
        "Pop. mn",
        "Forces k",
        "US troops",
    ]);
    for m in members {
        table.add_row(vec![
            m.code.clone(),
            m.display_name.clone(),
            m.accession_year.to_string(),
            output::member_status(m.status),
            optional(
                attribute(m, "defence_expenditure_usd_mn").map(|v| v / 1000.0),
                1,
            ),
            optional(attribute(m, "defence_pct_gdp"), 2),
            optional(attribute(m, "gdp_usd_bn"), 0),
            optional(attribute(m, "population_mn"), 1),
            optional(attribute(m, "armed_forces_personnel_thousands"), 1),
            optional(attribute(m, "us_troops_hosted"), 0),
        ]);
    }
    output::align_right(&mut table, &[2, 4, 5, 6, 7, 8, 9]);
    print(table);
    print(format!(
        "{} member{}",
        members.len(),
        if members.len() == 1 { "" } else { "s" }
    ));
}

fn print_member(m: &Member) {
    print_fields(&[
        ("Member", format!("{} ({})", m.display_name, m.name)),
        ("Code", m.code.clone()),
        ("Joined", m.accession_year.to_string()),
        ("Status", output::member_status(m.status)),
        ("Region", m.region.clone()),
    ]);
    if m.attributes.is_empty() {
        return;
    }
    let mut attributes: Vec<_> = m.attributes.iter().collect();
    attributes.sort_by(|a, b| a.0.cmp(b.0));
    let mut table = output::table(&["Attribute", "Value"]);
    for (key, value) in attributes {
        table.add_row(vec![key.clone(), output::number(*value)]);
    }
    output::align_right(&mut table, &[1]);
    print(table);
}
