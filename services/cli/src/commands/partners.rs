//! `accord partners list|show`: the partners, which take part in summits but have no vote.

use accord_proto::names::PARTNERS;
use accord_proto::v1::{
    GetPartnerRequest, ListPartnersRequest, ListPartnersResponse, Partner, SummitParticipation,
};

use super::collect_pages;
use crate::cli::{GlobalOptions, PartnersCommand};
use crate::client::Client;
use crate::output::{self, print, print_fields, print_json};

/// Runs a `partners` subcommand.
pub async fn run(
    client: &Client,
    global: &GlobalOptions,
    command: PartnersCommand,
) -> anyhow::Result<()> {
    match command {
        PartnersCommand::List {
            participation,
            page,
        } => {
            let summit_participation = participation
                .map(SummitParticipation::from)
                .unwrap_or_default() as i32;
            let partners = collect_pages(|page_token| {
                let mut service = client.partners();
                let request = ListPartnersRequest {
                    page_size: page.size(),
                    page_token,
                    summit_participation,
                };
                async move {
                    let r = service.list_partners(request).await?.into_inner();
                    Ok((r.partners, r.next_page_token))
                }
            })
            .await?;
            if global.json {
                print_json(&accord_proto::json::to_json(&ListPartnersResponse {
                    total_size: partners.len() as i32,
                    partners,
                    next_page_token: String::new(),
                }));
            } else {
                print_list(&partners);
            }
        }
        PartnersCommand::Show { partner } => {
            let name = output::resource_name(PARTNERS, &partner, true);
            let response = client
                .partners()
                .get_partner(GetPartnerRequest { name })
                .await?
                .into_inner();
            if global.json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(partner) = &response.partner {
                print_partner(partner);
            }
        }
    }
    Ok(())
}

fn print_list(partners: &[Partner]) {
    let mut table = output::table(&["Code", "Name", "Category", "Summit", "Framework"]);
    for p in partners {
        table.add_row(vec![
            p.code.clone(),
            p.display_name.clone(),
            output::partner_category(p.category),
            output::participation(p.summit_participation),
            p.framework.clone(),
        ]);
    }
    print(table);
    print(format!(
        "{} partner{}",
        partners.len(),
        if partners.len() == 1 { "" } else { "s" }
    ));
}

fn print_partner(p: &Partner) {
    print_fields(&[
        ("Partner", format!("{} ({})", p.display_name, p.name)),
        ("Code", p.code.clone()),
        ("Category", output::partner_category(p.category)),
        (
            "Summit participation",
            output::participation(p.summit_participation),
        ),
        ("Framework", p.framework.clone()),
        ("Attendance", p.attendance_notes.clone()),
    ]);
}
