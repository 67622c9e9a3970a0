//! `accord members list|show|create|update|delete`: the allies (or any council's members).

use accord_proto::names::MEMBERS;
use accord_proto::v1::{
    CreateMemberRequest, DeleteMemberRequest, GetMemberRequest, ListMembersRequest,
    ListMembersResponse, Member, MemberStatus, UpdateMemberRequest,
};

use super::collect_pages;
use crate::cli::{GlobalOptions, MemberFields, MembersCommand};
use crate::client::Client;
use crate::client::UsageError;
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
        MembersCommand::Create { code, fields } => {
            if fields.display_name.is_none() {
                return Err(UsageError("members create needs --name".into()).into());
            }
            let (mut member, _) = given(fields);
            member.code = code.trim().to_string();
            if member.status == 0 {
                member.status = MemberStatus::Active as i32;
            }
            let response = client
                .members()
                .create_member(client.operator(CreateMemberRequest {
                    member: Some(member),
                }))
                .await?
                .into_inner();
            show(global, &response, response.member.as_ref(), "created");
        }
        MembersCommand::Update { member, fields } => {
            let (mut given, paths) = given(fields);
            if paths.is_empty() {
                return Err(UsageError(
                    "members update needs at least one field to change (--name, --status, \
                     --region, --accession-year, --attribute)"
                        .into(),
                )
                .into());
            }
            given.name = output::resource_name(MEMBERS, &member, true);
            let response = client
                .members()
                .update_member(client.operator(UpdateMemberRequest {
                    member: Some(given),
                    update_mask: Some(prost_types::FieldMask { paths }),
                }))
                .await?
                .into_inner();
            show(global, &response, response.member.as_ref(), "updated");
        }
        MembersCommand::Delete { member } => {
            let name = output::resource_name(MEMBERS, &member, true);
            let response = client
                .members()
                .delete_member(client.operator(DeleteMemberRequest { name }))
                .await?
                .into_inner();
            show(global, &response, response.member.as_ref(), "deleted");
        }
    }
    Ok(())
}

/// The member the flags describe, and the field mask of the flags given.
fn given(fields: MemberFields) -> (Member, Vec<String>) {
    let mut member = Member::default();
    let mut paths = Vec::new();
    if let Some(name) = fields.display_name {
        member.display_name = name;
        paths.push("display_name".to_string());
    }
    if let Some(status) = fields.status {
        member.status = MemberStatus::from(status) as i32;
        paths.push("status".to_string());
    }
    if let Some(region) = fields.region {
        member.region = region;
        paths.push("region".to_string());
    }
    if let Some(year) = fields.accession_year {
        member.accession_year = year;
        paths.push("accession_year".to_string());
    }
    if !fields.attributes.is_empty() {
        member.attributes = fields.attributes.into_iter().collect();
        paths.push("attributes".to_string());
    }
    (member, paths)
}

fn show<T: accord_proto::prost::Name + accord_proto::prost::Message>(
    global: &GlobalOptions,
    response: &T,
    member: Option<&Member>,
    done: &str,
) {
    if global.json {
        print_json(&accord_proto::json::to_json(response));
    } else if let Some(member) = member {
        print(format!("Member {} {done}.", member.name));
        if done != "deleted" {
            print_member(member);
        }
    }
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
