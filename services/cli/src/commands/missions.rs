//! `accord missions list|show`: the alliance's missions and operations.

use accord_proto::names::MISSIONS;
use accord_proto::v1::{
    GetMissionRequest, ListMissionsRequest, ListMissionsResponse, Mission, MissionStatus,
};

use super::collect_pages;
use crate::cli::{GlobalOptions, MissionsCommand};
use crate::client::Client;
use crate::output::{self, print, print_fields, print_json};

/// Runs a `missions` subcommand.
pub async fn run(
    client: &Client,
    global: &GlobalOptions,
    command: MissionsCommand,
) -> anyhow::Result<()> {
    match command {
        MissionsCommand::List { status, page } => {
            let status = status.map(MissionStatus::from).unwrap_or_default() as i32;
            let missions = collect_pages(|page_token| {
                let mut service = client.missions();
                let request = ListMissionsRequest {
                    page_size: page.size(),
                    page_token,
                    status,
                };
                async move {
                    let r = service.list_missions(request).await?.into_inner();
                    Ok((r.missions, r.next_page_token))
                }
            })
            .await?;
            if global.json {
                print_json(&accord_proto::json::to_json(&ListMissionsResponse {
                    total_size: missions.len() as i32,
                    missions,
                    next_page_token: String::new(),
                }));
            } else {
                print_list(&missions);
            }
        }
        MissionsCommand::Show { mission } => {
            let name = output::resource_name(MISSIONS, &mission, true);
            let response = client
                .missions()
                .get_mission(GetMissionRequest { name })
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(mission) = &response.mission {
                print_mission(mission);
            }
        }
    }
    Ok(())
}

fn ceiling(m: &Mission) -> String {
    if m.personnel_ceiling > 0 {
        m.personnel_ceiling.to_string()
    } else {
        "-".to_string()
    }
}

fn started(m: &Mission) -> String {
    if m.start_year > 0 {
        m.start_year.to_string()
    } else {
        "-".to_string()
    }
}

fn print_list(missions: &[Mission]) {
    let mut table = output::table(&[
        "Id", "Name", "Location", "Started", "Area", "Art. 5", "Ceiling", "Status", "Ends",
    ]);
    for m in missions {
        let end = output::date(m.end_date.as_ref());
        table.add_row(vec![
            m.id.clone(),
            m.display_name.clone(),
            m.location.clone(),
            started(m),
            output::mission_area(m.area),
            if m.article5 { "yes" } else { "no" }.to_string(),
            ceiling(m),
            output::mission_status(m.status),
            if end.is_empty() { "-".to_string() } else { end },
        ]);
    }
    output::align_right(&mut table, &[3, 6]);
    print(table);
    print(format!(
        "{} mission{}",
        missions.len(),
        if missions.len() == 1 { "" } else { "s" }
    ));
}

fn print_mission(m: &Mission) {
    print_fields(&[
        ("Mission", format!("{} ({})", m.display_name, m.name)),
        ("Id", m.id.clone()),
        ("Location", m.location.clone()),
        ("Started", started(m)),
        ("Area", output::mission_area(m.area)),
        (
            "Article 5",
            if m.article5 { "yes" } else { "no" }.to_string(),
        ),
        ("Ceiling", ceiling(m)),
        ("Status", output::mission_status(m.status)),
        ("Ends", output::date(m.end_date.as_ref())),
        ("Mandate", m.mandate.clone()),
    ]);
    if !m.contributions.is_empty() {
        let mut contributions = m.contributions.clone();
        contributions.sort_by(|a, b| b.troops.cmp(&a.troops).then(a.member.cmp(&b.member)));
        let total: i64 = contributions.iter().map(|c| i64::from(c.troops)).sum();
        let mut table = output::table(&["Member", "Troops"]);
        for c in &contributions {
            table.add_row(vec![
                output::short(&c.member).to_string(),
                c.troops.to_string(),
            ]);
        }
        table.add_row(vec!["total".to_string(), total.to_string()]);
        output::align_right(&mut table, &[1]);
        print(table);
    }
}
