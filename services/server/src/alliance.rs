//! The alliance's records: members (the allies), partners and missions — reading them (from
//! memory: `cache.rs`), and the operator's create and update calls with their validation and
//! field masks, each of which invalidates the cached records of its kind once the store has
//! committed (or refused) it.

use accord_proto::names::{self, MEMBERS, MISSIONS, PARTNERS};
use accord_proto::v1::{
    Member, MemberStatus, Mission, MissionArea, MissionStatus, Partner, PartnerCategory,
    SummitParticipation,
};
use accord_store::{Page, PageRequest};
use prost_types::FieldMask;

use crate::app::{App, parse_enum, parse_name};
use crate::error::{DomainError, DomainResult};
use crate::time;

/// The field paths an update touches: the mask's paths, or all `fields` when it is empty.
fn mask_paths<'a>(
    mask: Option<&'a FieldMask>,
    fields: &[&'static str],
    field: &str,
) -> DomainResult<Vec<&'a str>>
where
    'static: 'a,
{
    match mask {
        Some(mask) if !mask.paths.is_empty() => {
            for path in &mask.paths {
                if !fields.contains(&path.as_str()) {
                    return Err(DomainError::invalid(
                        field,
                        format!(
                            "cannot update `{path}`; updatable fields: {}",
                            fields.join(", ")
                        ),
                    ));
                }
            }
            Ok(mask.paths.iter().map(String::as_str).collect())
        }
        _ => Ok(fields.to_vec()),
    }
}

fn iso3(field: &str, code: &str) -> DomainResult<()> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("`{code}` is not an ISO 3166-1 alpha-3 code (three upper-case letters)"),
        ))
    }
}

/// The longest member code: members of other councils than NATO's (an IMF constituency, a board
/// seat) have codes of any length up to this.
pub const MAX_MEMBER_CODE_LEN: usize = 16;

/// A member code: 1 to [`MAX_MEMBER_CODE_LEN`] upper-case ASCII letters, digits, `-` or `_`,
/// starting with a letter ("USA", "EU27", "IMF-ED-12").
pub fn is_member_code(code: &str) -> bool {
    let mut chars = code.chars();
    code.len() <= MAX_MEMBER_CODE_LEN
        && chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn member_code(field: &str, code: &str) -> DomainResult<()> {
    if is_member_code(code) {
        Ok(())
    } else {
        let shown: String = code.chars().take(MAX_MEMBER_CODE_LEN + 1).collect();
        Err(DomainError::invalid(
            field,
            format!(
                "`{shown}` is not a member code: 1 to {MAX_MEMBER_CODE_LEN} upper-case letters, \
                 digits, `-` or `_`, starting with a letter (an ISO 3166-1 alpha-3 code for a \
                 country)"
            ),
        ))
    }
}

fn required(field: &str, value: &str) -> DomainResult<()> {
    if value.trim().is_empty() {
        Err(DomainError::invalid(field, "is required"))
    } else {
        Ok(())
    }
}

fn check_member(member: &Member) -> DomainResult<()> {
    required("member.display_name", &member.display_name)?;
    let status: MemberStatus = parse_enum("member.status", member.status)?;
    if status == MemberStatus::Unspecified {
        return Err(DomainError::invalid(
            "member.status",
            "is required (active, invited or suspended)",
        ));
    }
    if let Some((key, value)) = member.attributes.iter().find(|(_, v)| !v.is_finite()) {
        return Err(DomainError::invalid(
            format!("member.attributes.{key}"),
            format!("{value} is not a finite number"),
        ));
    }
    Ok(())
}

fn check_partner(partner: &Partner) -> DomainResult<()> {
    required("partner.display_name", &partner.display_name)?;
    parse_enum::<PartnerCategory>("partner.category", partner.category)?;
    parse_enum::<SummitParticipation>(
        "partner.summit_participation",
        partner.summit_participation,
    )?;
    Ok(())
}

fn check_mission(mission: &Mission) -> DomainResult<()> {
    required("mission.display_name", &mission.display_name)?;
    parse_enum::<MissionArea>("mission.area", mission.area)?;
    let status: MissionStatus = parse_enum("mission.status", mission.status)?;
    if status == MissionStatus::Unspecified {
        return Err(DomainError::invalid("mission.status", "is required"));
    }
    if mission.personnel_ceiling < 0 {
        return Err(DomainError::invalid(
            "mission.personnel_ceiling",
            format!("{} is negative", mission.personnel_ceiling),
        ));
    }
    if let Some(date) = &mission.end_date {
        if time::to_naive(date).is_none() {
            return Err(DomainError::invalid(
                "mission.end_date",
                format!("{} is not a valid date", time::format_date(date)),
            ));
        }
    }
    for (i, c) in mission.contributions.iter().enumerate() {
        parse_name(
            &format!("mission.contributions[{i}].member"),
            MEMBERS,
            &c.member,
        )?;
        if c.troops < 0 {
            return Err(DomainError::invalid(
                format!("mission.contributions[{i}].troops"),
                format!("{} is negative", c.troops),
            ));
        }
    }
    Ok(())
}

impl App {
    /// One member by code ("USA"), from memory.
    pub async fn get_member(&self, code: &str) -> DomainResult<Member> {
        Ok(self.members.with(&*self.store, code, Member::clone).await?)
    }

    /// A page of members, optionally only those with `status`: cut from the members in memory
    /// exactly as the store would page them (same tokens), or read from a store that cannot.
    pub async fn list_members(
        &self,
        status: Option<MemberStatus>,
        page: PageRequest,
    ) -> DomainResult<Page<Member>> {
        Ok(match &self.pages {
            Some(pages) => pages.members(&self.members.all(&*self.store).await?, status, &page)?,
            None => self.store.list_members(status, page).await?,
        })
    }

    /// One partner by code ("UKR"), from memory.
    pub async fn get_partner(&self, code: &str) -> DomainResult<Partner> {
        Ok(self
            .partners
            .with(&*self.store, code, Partner::clone)
            .await?)
    }

    /// A page of partners, optionally only those with `participation` (as [`Self::list_members`]).
    pub async fn list_partners(
        &self,
        participation: Option<SummitParticipation>,
        page: PageRequest,
    ) -> DomainResult<Page<Partner>> {
        Ok(match &self.pages {
            Some(pages) => {
                let all = self.partners.all(&*self.store).await?;
                pages.partners(&all, participation, &page)?
            }
            None => self.store.list_partners(participation, page).await?,
        })
    }

    /// One mission by id ("KFOR"), from memory.
    pub async fn get_mission(&self, id: &str) -> DomainResult<Mission> {
        Ok(self.missions.with(&*self.store, id, Mission::clone).await?)
    }

    /// A page of missions, optionally only those with `status` (as [`Self::list_members`]).
    pub async fn list_missions(
        &self,
        status: Option<MissionStatus>,
        page: PageRequest,
    ) -> DomainResult<Page<Mission>> {
        Ok(match &self.pages {
            Some(pages) => {
                pages.missions(&self.missions.all(&*self.store).await?, status, &page)?
            }
            None => self.store.list_missions(status, page).await?,
        })
    }

    /// Forgets the cached partners and missions: an adopted proposal's effects may have changed
    /// them (called after every close, whatever it did).
    pub fn effects_applied(&self) {
        self.partners.invalidate();
        self.missions.invalidate();
    }

    /// Adds a member.
    pub async fn create_member(&self, member: Option<Member>) -> DomainResult<Member> {
        let mut member = member.ok_or_else(|| DomainError::invalid("member", "is required"))?;
        member_code("member.code", &member.code)?;
        member.name = names::name(MEMBERS, &member.code);
        check_member(&member)?;
        let created = self.store.create_member(&member).await;
        self.members.invalidate();
        created?;
        Ok(member)
    }

    /// Updates the fields of a member named by `update_mask`.
    pub async fn update_member(
        &self,
        member: Option<Member>,
        mask: Option<FieldMask>,
    ) -> DomainResult<Member> {
        let given = member.ok_or_else(|| DomainError::invalid("member", "is required"))?;
        let code = parse_name("member.name", MEMBERS, &given.name)?;
        let mut member = self.store.get_member(code).await?;
        for path in mask_paths(
            mask.as_ref(),
            &[
                "display_name",
                "accession_year",
                "status",
                "region",
                "attributes",
            ],
            "update_mask",
        )? {
            match path {
                "display_name" => member.display_name = given.display_name.clone(),
                "accession_year" => member.accession_year = given.accession_year,
                "status" => member.status = given.status,
                "region" => member.region = given.region.clone(),
                "attributes" => member.attributes = given.attributes.clone(),
                _ => unreachable!("checked by mask_paths"),
            }
        }
        check_member(&member)?;
        let updated = self.store.update_member(&member).await;
        self.members.invalidate();
        updated?;
        Ok(member)
    }

    /// Deletes a member that has never cast a ballot or sponsored a proposal.
    pub async fn delete_member(&self, name: &str) -> DomainResult<Member> {
        let code = parse_name("name", MEMBERS, name)?;
        let deleted = self.store.delete_member(code).await;
        self.members.invalidate();
        Ok(deleted?)
    }

    /// Adds a partner.
    pub async fn create_partner(&self, partner: Option<Partner>) -> DomainResult<Partner> {
        let mut partner = partner.ok_or_else(|| DomainError::invalid("partner", "is required"))?;
        iso3("partner.code", &partner.code)?;
        partner.name = names::name(PARTNERS, &partner.code);
        check_partner(&partner)?;
        let created = self.store.create_partner(&partner).await;
        self.partners.invalidate();
        created?;
        Ok(partner)
    }

    /// Updates the fields of a partner named by `update_mask`.
    pub async fn update_partner(
        &self,
        partner: Option<Partner>,
        mask: Option<FieldMask>,
    ) -> DomainResult<Partner> {
        let given = partner.ok_or_else(|| DomainError::invalid("partner", "is required"))?;
        let code = parse_name("partner.name", PARTNERS, &given.name)?;
        let mut partner = self.store.get_partner(code).await?;
        for path in mask_paths(
            mask.as_ref(),
            &[
                "display_name",
                "category",
                "framework",
                "summit_participation",
                "attendance_notes",
            ],
            "update_mask",
        )? {
            match path {
                "display_name" => partner.display_name = given.display_name.clone(),
                "category" => partner.category = given.category,
                "framework" => partner.framework = given.framework.clone(),
                "summit_participation" => partner.summit_participation = given.summit_participation,
                "attendance_notes" => partner.attendance_notes = given.attendance_notes.clone(),
                _ => unreachable!("checked by mask_paths"),
            }
        }
        check_partner(&partner)?;
        let updated = self.store.update_partner(&partner).await;
        self.partners.invalidate();
        updated?;
        Ok(partner)
    }

    /// Adds a mission.
    pub async fn create_mission(&self, mission: Option<Mission>) -> DomainResult<Mission> {
        let mut mission = mission.ok_or_else(|| DomainError::invalid("mission", "is required"))?;
        let id_ok = !mission.id.is_empty()
            && mission.id.len() <= 32
            && mission
                .id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(DomainError::invalid(
                "mission.id",
                format!(
                    "`{}` must be 1-32 upper-case letters, digits or hyphens",
                    mission.id
                ),
            ));
        }
        mission.name = names::name(MISSIONS, &mission.id);
        check_mission(&mission)?;
        let created = self.store.create_mission(&mission).await;
        self.missions.invalidate();
        created?;
        Ok(mission)
    }

    /// Updates the fields of a mission named by `update_mask`.
    pub async fn update_mission(
        &self,
        mission: Option<Mission>,
        mask: Option<FieldMask>,
    ) -> DomainResult<Mission> {
        let given = mission.ok_or_else(|| DomainError::invalid("mission", "is required"))?;
        let id = parse_name("mission.name", MISSIONS, &given.name)?;
        let mut mission = self.store.get_mission(id).await?;
        for path in mask_paths(
            mask.as_ref(),
            &[
                "display_name",
                "location",
                "start_year",
                "area",
                "article5",
                "personnel_ceiling",
                "status",
                "end_date",
                "contributions",
                "mandate",
            ],
            "update_mask",
        )? {
            match path {
                "display_name" => mission.display_name = given.display_name.clone(),
                "location" => mission.location = given.location.clone(),
                "start_year" => mission.start_year = given.start_year,
                "area" => mission.area = given.area,
                "article5" => mission.article5 = given.article5,
                "personnel_ceiling" => mission.personnel_ceiling = given.personnel_ceiling,
                "status" => mission.status = given.status,
                "end_date" => mission.end_date = given.end_date,
                "contributions" => mission.contributions = given.contributions.clone(),
                "mandate" => mission.mandate = given.mandate.clone(),
                _ => unreachable!("checked by mask_paths"),
            }
        }
        check_mission(&mission)?;
        let updated = self.store.update_mission(&mission).await;
        self.missions.invalidate();
        updated?;
        Ok(mission)
    }
}
