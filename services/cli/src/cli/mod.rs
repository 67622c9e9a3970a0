//! The command tree of `accord` (clap derive): global options, one subcommand per service and
//! one per RPC, and the parsers for the values the flags take (dates, durations, positions,
//! `key=value` parameters and `policy:key=value,…` specs).

pub mod bench;
pub mod power;
pub mod scenario;

use std::time::{Duration, SystemTime};

use accord_proto::v1::{
    Choice, Date, MemberStatus, MissionStatus, PolicyRef, Position, Procedure, ProposalKind,
    ProposalState, SummitParticipation, position,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// `accord`: a command-line client for every RPC of the accord server.
#[derive(Debug, Parser)]
#[command(
    name = "accord",
    version,
    about = "A client for the accord server: the alliance's members, partners and missions, \
             proposals and ballots, and the decision policies.",
    long_about = "A client for the accord server: the alliance's members, partners and missions, \
                  proposals and ballots, and the decision policies.\n\n\
                  Members, partners and missions are named by code (USA, UKR, KFOR) or by \
                  resource name (members/USA); proposals by number (3) or name (proposals/3); \
                  policies by id (weighted) or name (policies/weighted).\n\n\
                  Exit codes: 0 success, 1 the server answered with an error, 2 usage error, \
                  3 the server could not be reached.",
    propagate_version = true
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalOptions,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes (they may come before or after the subcommand).
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// The server's address (`http://host:port`; `host:port` is taken as http).
    #[arg(
        long,
        global = true,
        env = "ACCORD_ADDR",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL"
    )]
    pub addr: String,
    /// Machine-readable output: the canonical proto3 JSON of the response messages (one JSON
    /// document; `watch` prints one JSON object per line).
    #[arg(long, global = true)]
    pub json: bool,
    /// The operator token, sent as `authorization: Bearer <token>` on operator calls (policy
    /// load, replace, disable, default).
    #[arg(
        long,
        global = true,
        env = "ACCORD_OPERATOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// A file holding the token (first line): an operator token, or a delegation or observer
    /// token issued with `accord delegations issue`. Used when --token is not given.
    #[arg(long, global = true, env = "ACCORD_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// PEM CA certificate to trust for the server's certificate (turns TLS on; so does an
    /// `https://` address).
    #[arg(long, global = true, env = "ACCORD_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM client certificate (mTLS), with --tls-key.
    #[arg(long, global = true, env = "ACCORD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM client key (mTLS).
    #[arg(long, global = true, env = "ACCORD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// `accord delegations …`.
#[derive(Debug, Subcommand)]
pub enum DelegationsCommand {
    /// Issues a token for a member's delegation (or `--observer`); the token is shown once.
    Issue {
        /// The member: a code (DEU) or a name (members/DEU).
        member: Option<String>,
        /// Issue an observer token (read only) instead.
        #[arg(long)]
        observer: bool,
        /// Days the token is accepted [default: 90].
        #[arg(long)]
        ttl_days: Option<i64>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Lists issued tokens (never the tokens themselves).
    List,
    /// Revokes a token: tokens/3 or 3.
    Revoke {
        /// The token.
        token: String,
    },
    /// Says who the server takes you to be.
    Whoami,
}

/// `accord keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generates an Ed25519 ballot key: writes the secret key (hex) to FILE (mode 0600) and
    /// prints the public key.
    Generate {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Registers the public key of a ballot key for your member (or `--member`, operators).
    Register {
        /// The key file written by `accord keys generate`.
        #[arg(long, value_name = "FILE")]
        key: std::path::PathBuf,
        /// The member (operators only; a delegation registers for its own member).
        #[arg(long)]
        member: Option<String>,
    },
}

/// `accord audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes the hash chain and every ballot signature and names the first entry that
    /// does not verify: of a database file (offline; also compares every stored ballot with
    /// its entry), or of the server's log (through ExportAuditLog).
    Verify {
        /// A database file to check offline instead of the server.
        #[arg(long, value_name = "FILE")]
        database: Option<std::path::PathBuf>,
    },
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// The allies: list them, show one.
    #[command(subcommand)]
    Members(MembersCommand),
    /// The partners (no vote): list them, show one.
    #[command(subcommand)]
    Partners(PartnersCommand),
    /// The alliance's missions and operations: list them, show one.
    #[command(subcommand)]
    Missions(MissionsCommand),
    /// Proposals: create, vote, list ballots, evaluate under the policies, withdraw, close,
    /// watch.
    #[command(subcommand)]
    Proposals(ProposalsCommand),
    /// Decision-policy plugins: list, show, load, replace, disable, set the default.
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Scenarios: put proposals with every member's stance to the alliance and compare the
    /// policies side by side (docs/scenarios.md).
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// Starts a server in this process and runs the seed scenario (February 2026: end NATO
    /// Mission Iraq, shrink KFOR, keep Ukraine and the Indo-Pacific partners out at Ankara).
    Demo(scenario::OutputArgs),
    /// Voting power in any council: the Banzhaf, Shapley–Shubik, Deegan–Packel, Holler,
    /// Johnston and Coleman indices of a game read from a CSV or TOML file (docs/power.md).
    Power(power::PowerArgs),
    /// Load generator: drives the server with concurrent streams (health, GetMember,
    /// CastBallot, EvaluateProposal) and reports throughput and latency percentiles.
    Bench(bench::BenchArgs),
    /// Asks the server's standard health service (grpc.health.v1) whether it is serving; exits
    /// 0 when it is, 1 when it is not (for container health checks and scripts).
    Health {
        /// A service name, e.g. `accord.v1.ProposalService` [default: the whole server].
        #[arg(long, default_value = "", value_name = "SERVICE")]
        service: String,
    },
    /// Delegation and observer tokens: issue (shown once), list, revoke (operators).
    #[command(subcommand)]
    Delegations(DelegationsCommand),
    /// Ballot-signing keys: generate a key pair, register its public key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// Paging of list commands. Lists always follow `next_page_token` to the end; this only sets
/// how many items each call asks for.
#[derive(Debug, Clone, Copy, Args)]
pub struct PageArgs {
    /// Items per request, 1 to 1000 [default: the server's].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1000), value_name = "N")]
    pub page_size: Option<i32>,
}

impl PageArgs {
    /// The page size to send (0 = the server's default).
    pub fn size(&self) -> i32 {
        self.page_size.unwrap_or(0)
    }
}

/// `accord members …`
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Lists the members (all pages), ordered by code.
    List {
        /// Only members with this status.
        #[arg(long, value_enum)]
        status: Option<MemberStatusArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Shows one member with all its attributes.
    Show {
        /// The member: a code (USA) or a name (members/USA).
        member: String,
    },
    /// Adds a member (operator). Codes are 1 to 16 upper-case letters, digits, `-` or `_`,
    /// starting with a letter (an ISO 3166-1 alpha-3 code for a country).
    Create {
        /// The new member's code, e.g. `ISL` or `IMF-ED-12`.
        code: String,
        #[command(flatten)]
        fields: MemberFields,
    },
    /// Updates a member (operator): only the fields given change.
    Update {
        /// The member: a code (USA) or a name (members/USA).
        member: String,
        #[command(flatten)]
        fields: MemberFields,
    },
    /// Deletes a member that has never cast a ballot or sponsored a proposal (operator); one
    /// with a record is refused (suspend it with `update --status suspended`).
    Delete {
        /// The member: a code (USA) or a name (members/USA).
        member: String,
    },
}

/// The fields of `members create` and `members update`.
#[derive(Debug, Clone, Args)]
pub struct MemberFields {
    /// Its name, e.g. "Iceland" (required by create).
    #[arg(long = "name", value_name = "NAME")]
    pub display_name: Option<String>,
    /// Its status [create's default: active].
    #[arg(long, value_enum)]
    pub status: Option<MemberStatusArg>,
    /// Its region, e.g. "Europe".
    #[arg(long)]
    pub region: Option<String>,
    /// The year it joined.
    #[arg(long, value_name = "YEAR")]
    pub accession_year: Option<i32>,
    /// A numeric attribute (repeatable), e.g. `--attribute votes=831407`; with update, the
    /// attributes given replace all of the member's attributes.
    #[arg(long = "attribute", value_parser = parse_attribute, value_name = "KEY=NUMBER")]
    pub attributes: Vec<(String, f64)>,
}

/// Parses `key=number`.
pub fn parse_attribute(text: &str) -> Result<(String, f64), String> {
    let (key, value) = parse_key_value(text)?;
    let number: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{value}` is not a number"))?;
    Ok((key, number))
}

/// `accord partners …`
#[derive(Debug, Subcommand)]
pub enum PartnersCommand {
    /// Lists the partners (all pages), ordered by code.
    List {
        /// Only partners with this summit participation.
        #[arg(long, value_enum)]
        participation: Option<ParticipationArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Shows one partner.
    Show {
        /// The partner: a code (UKR) or a name (partners/UKR).
        partner: String,
    },
}

/// `accord missions …`
#[derive(Debug, Subcommand)]
pub enum MissionsCommand {
    /// Lists the missions (all pages), ordered by id.
    List {
        /// Only missions with this status.
        #[arg(long, value_enum)]
        status: Option<MissionStatusArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Shows one mission with its troop contributions.
    Show {
        /// The mission: an id (KFOR) or a name (missions/KFOR).
        mission: String,
    },
}

/// `accord proposals …`
#[derive(Debug, Subcommand)]
pub enum ProposalsCommand {
    /// Creates a proposal: one subcommand per action.
    #[command(subcommand)]
    Create(CreateAction),
    /// Shows one proposal, with its decision once closed.
    Show {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
    },
    /// Lists proposals (all pages), newest first.
    List {
        /// Only proposals in this state.
        #[arg(long, value_enum)]
        state: Option<ProposalStateArg>,
        /// Only proposals of this kind.
        #[arg(long, value_enum)]
        kind: Option<ProposalKindArg>,
        /// Only proposals about this resource, e.g. missions/KFOR or partners/UKR.
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Casts a member's ballot (the member's last ballot counts).
    Vote {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
        /// The member voting: a code (DEU) or a name (members/DEU).
        #[arg(long)]
        member: String,
        /// The member's choice (under the silence procedure, `object` breaks silence).
        #[arg(long, value_enum, required_unless_present = "withdraw")]
        choice: Option<ChoiceArg>,
        /// Withdraw the member's current ballot instead (it has no ballot again; `--reason` may
        /// say why).
        #[arg(long, conflicts_with_all = ["choice", "salience", "position", "acceptable_range"])]
        withdraw: bool,
        /// How much the issue matters to the member, 0 (not at all) to 1 (vital).
        #[arg(long, value_name = "0..1")]
        salience: Option<f64>,
        /// The member's reason, in words.
        #[arg(long)]
        reason: Option<String>,
        /// The member's preferred value: a date (YYYY-MM-DD) for end and extend proposals, an
        /// amount (troops) for resize and launch proposals.
        #[arg(long, value_parser = parse_position, value_name = "DATE|AMOUNT")]
        position: Option<Position>,
        /// The values the member would accept, `LOW..HIGH` (dates or amounts; either end may be
        /// left out: `..2027-03-31`, `2500..`). Used by `evaluate --what-could-pass`.
        #[arg(long = "accept", value_parser = parse_range, value_name = "LOW..HIGH")]
        acceptable_range: Option<accord_proto::v1::AcceptableRange>,
        /// Sign the ballot with this ballot key (a file written by `accord keys generate`).
        #[arg(long, value_name = "KEY")]
        sign_with: Option<std::path::PathBuf>,
        /// The nonce the signature covers [default: the current time, RFC 3339].
        #[arg(long)]
        nonce: Option<String>,
    },
    /// Lists every ballot cast on a proposal, in the order cast.
    Ballots {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Withdraws an open proposal (its sponsor only).
    Withdraw {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
        /// The member asking; must be the sponsor (USA or members/USA).
        #[arg(long)]
        requester: String,
    },
    /// Closes an open proposal now and decides it with its policy.
    Close {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
    },
    /// Decides a proposal under one, several or all loaded policies, changing nothing.
    #[command(after_help = "Examples:\n  \
        accord proposals evaluate 3\n  \
        accord proposals evaluate 3 --policy weighted --policy unanimity\n  \
        accord proposals evaluate 3 --policy pressure:trials=20000,mode=deterministic --seed 7\n  \
        accord proposals evaluate 3 --policy pressure:susceptibility=DEU=0.2,FRA=0.1 --ballot HUN=object")]
    Evaluate {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
        /// A policy to decide under, with parameters: `ID` or `ID:key=value,key=value`
        /// (repeatable; none = every healthy policy with its defaults). A value may itself
        /// hold commas when the text after them starts with an upper-case code, e.g.
        /// `pressure:susceptibility=DEU=0.2,FRA=0.1`.
        #[arg(long = "policy", value_parser = parse_policy_spec, value_name = "ID[:K=V,…]")]
        policies: Vec<PolicyRef>,
        /// Seed for policies that use randomness [default: the server's fixed seed].
        #[arg(long)]
        seed: Option<u64>,
        /// A hypothetical ballot laid over the proposal's own, `CODE=support|object|abstain`
        /// (repeatable).
        #[arg(long = "ballot", value_parser = parse_ballot_spec, value_name = "CODE=CHOICE")]
        ballots: Vec<(String, Choice)>,
        /// Evaluate as at this moment (RFC 3339) [default: now].
        #[arg(long, value_parser = parse_rfc3339, value_name = "RFC3339")]
        at: Option<prost_types::Timestamp>,
        /// Also print each decision in full, with its explanation.
        #[arg(long)]
        explain: bool,
        /// Also say what could pass: the zone of agreement on the proposal's quantity (end
        /// date or ceiling) under this rule, computed by the server from the ballots' positions
        /// and acceptable ranges.
        #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "unanimity", value_name = "RULE")]
        what_could_pass: Option<AgreementRuleArg>,
        /// For `--what-could-pass qualified-majority`: the share of the counted weight that must
        /// accept a value [default: 0.55].
        #[arg(long, value_name = "0..1", requires = "what_could_pass")]
        quota: Option<f64>,
        /// For `--what-could-pass qualified-majority`: what a member weighs [default: equal].
        #[arg(long, value_enum, requires = "what_could_pass")]
        weight: Option<ZoneWeightArg>,
        /// For `--what-could-pass`: the share of the range of positions a member of salience 0
        /// accepts either side of its position when it states no range [default: 0.1].
        #[arg(long, value_name = "0..1", requires = "what_could_pass")]
        tolerance: Option<f64>,
    },
    /// Prints the proposal's events as they happen, until it closes.
    Watch {
        /// The proposal: a number (3) or a name (proposals/3).
        proposal: String,
    },
}

/// The action of a new proposal, with the options every proposal takes.
#[derive(Debug, Subcommand)]
pub enum CreateAction {
    /// End an active mission on a date.
    EndMission {
        /// The mission: an id (NMI) or a name (missions/NMI).
        mission: String,
        /// The date the mission would end.
        #[arg(long, value_parser = parse_date, value_name = "YYYY-MM-DD")]
        end_date: Date,
        #[command(flatten)]
        common: CreateOptions,
    },
    /// Change an active mission's personnel ceiling.
    ResizeMission {
        /// The mission: an id (KFOR) or a name (missions/KFOR).
        mission: String,
        /// The new personnel ceiling (troops).
        #[arg(long, allow_negative_numbers = true, value_name = "TROOPS")]
        ceiling: i32,
        #[command(flatten)]
        common: CreateOptions,
    },
    /// Move an active mission's end date.
    ExtendMission {
        /// The mission: an id (KFOR) or a name (missions/KFOR).
        mission: String,
        /// The new end date.
        #[arg(long, value_parser = parse_date, value_name = "YYYY-MM-DD")]
        end_date: Date,
        #[command(flatten)]
        common: CreateOptions,
    },
    /// Launch a new mission.
    LaunchMission {
        /// The new mission's id: upper-case letters, digits and hyphens (e.g. NMI-2).
        id: String,
        /// The new mission's full name.
        #[arg(long)]
        name: String,
        /// Where it would operate.
        #[arg(long)]
        location: Option<String>,
        /// Its authorised personnel ceiling (troops).
        #[arg(long, allow_negative_numbers = true, value_name = "TROOPS")]
        ceiling: i32,
        /// The mission would be inside the treaty area (default: out of area).
        #[arg(long)]
        in_area: bool,
        /// Its mandate, in a sentence or two.
        #[arg(long)]
        mandate: Option<String>,
        #[command(flatten)]
        common: CreateOptions,
    },
    /// Set how one or more partners take part in a summit.
    SummitParticipation {
        /// The partners: codes (UKR AUS) or names (partners/UKR).
        #[arg(required = true, num_args = 1..)]
        partners: Vec<String>,
        /// The participation proposed.
        #[arg(long, value_enum)]
        participation: ParticipationArg,
        /// The summit.
        #[arg(long, default_value = "Ankara 2026")]
        summit: String,
        #[command(flatten)]
        common: CreateOptions,
    },
    /// Any other motion (changes nothing in the alliance's records when adopted).
    Motion {
        /// The text of the motion.
        #[arg(long)]
        text: String,
        /// What the motion is about: members/…, missions/…, partners/… or free text.
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        common: CreateOptions,
    },
}

impl CreateAction {
    /// The options every proposal takes.
    pub fn common(&self) -> &CreateOptions {
        match self {
            CreateAction::EndMission { common, .. }
            | CreateAction::ResizeMission { common, .. }
            | CreateAction::ExtendMission { common, .. }
            | CreateAction::LaunchMission { common, .. }
            | CreateAction::SummitParticipation { common, .. }
            | CreateAction::Motion { common, .. } => common,
        }
    }
}

/// Options every new proposal takes.
#[derive(Debug, Clone, Args)]
pub struct CreateOptions {
    /// Short title.
    #[arg(long)]
    pub title: String,
    /// Longer description.
    #[arg(long)]
    pub description: Option<String>,
    /// The sponsoring member: a code (USA) or a name (members/USA).
    #[arg(long)]
    pub sponsor: String,
    /// How the proposal is decided: an open vote, or the silence procedure (adopted at the
    /// deadline unless a member objects).
    #[arg(long, value_enum, default_value_t = ProcedureArg::Open)]
    pub procedure: ProcedureArg,
    /// When the proposal closes (RFC 3339, e.g. 2026-03-01T12:00:00Z) [default: in 14 days,
    /// set by the server].
    #[arg(long, value_parser = parse_rfc3339, value_name = "RFC3339", conflicts_with = "deadline_in")]
    pub deadline: Option<prost_types::Timestamp>,
    /// When the proposal closes, from now: a number and a unit (s, m, h, d, w), e.g. 90s, 2h,
    /// 14d or 1h30m.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub deadline_in: Option<Duration>,
    /// The policy that decides it [default: the server's default policy].
    #[arg(long, value_name = "ID")]
    pub policy: Option<String>,
    /// A policy parameter, `key=value` (repeatable); see `accord policies show ID`.
    #[arg(long = "param", value_parser = parse_key_value, value_name = "KEY=VALUE")]
    pub params: Vec<(String, String)>,
}

impl CreateOptions {
    /// The deadline to send, if one was given.
    pub fn deadline(&self) -> Option<prost_types::Timestamp> {
        match (&self.deadline, self.deadline_in) {
            (Some(at), _) => Some(*at),
            (None, Some(after)) => Some(prost_types::Timestamp::from(SystemTime::now() + after)),
            (None, None) => None,
        }
    }

    /// The policy reference to send, if a policy or a parameter was given.
    pub fn policy_ref(&self) -> Option<PolicyRef> {
        if self.policy.is_none() && self.params.is_empty() {
            return None;
        }
        Some(PolicyRef {
            policy_id: self
                .policy
                .as_deref()
                .map(|p| p.strip_prefix("policies/").unwrap_or(p).to_string())
                .unwrap_or_default(),
            parameters: self.params.iter().cloned().collect(),
        })
    }
}

/// `accord policies …`
#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Lists the loaded policies: id, version, health, default, SHA-256, library file.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Shows one policy's descriptor with its parameters (name, type, default, doc).
    Show {
        /// The policy: an id (weighted) or a name (policies/weighted).
        policy: String,
    },
    /// Loads a policy library from the server's plugin directory (operator).
    Load {
        /// The library's file name in the server's plugin directory, e.g.
        /// libaccord_weighted.so (not a path).
        file: String,
        /// Where the library runs [default: the server's configuration for this file].
        #[arg(long, value_enum)]
        isolation: Option<Isolation>,
    },
    /// Replaces a loaded policy with a library from the plugin directory (operator); calls in
    /// flight finish on the old version.
    Replace {
        /// The policy: an id (weighted) or a name (policies/weighted).
        policy: String,
        /// The new library's file name in the server's plugin directory; it must hold the same
        /// policy id.
        file: String,
        /// Where the new version runs [default: where the replaced version runs].
        #[arg(long, value_enum)]
        isolation: Option<Isolation>,
    },
    /// Disables a policy: it takes no calls until loaded again (operator).
    Disable {
        /// The policy: an id (weighted) or a name (policies/weighted).
        policy: String,
    },
    /// Makes a policy the default for new proposals (operator).
    Default {
        /// The policy: an id (weighted) or a name (policies/weighted).
        policy: String,
    },
}

/// A member status, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemberStatusArg {
    /// A full member whose vote counts.
    Active,
    /// Invited to join, not yet voting.
    Invited,
    /// Participation suspended.
    Suspended,
}

impl From<MemberStatusArg> for MemberStatus {
    fn from(value: MemberStatusArg) -> Self {
        match value {
            MemberStatusArg::Active => MemberStatus::Active,
            MemberStatusArg::Invited => MemberStatus::Invited,
            MemberStatusArg::Suspended => MemberStatus::Suspended,
        }
    }
}

/// A summit participation, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParticipationArg {
    /// A seat at the leaders' sessions.
    Full,
    /// Side events, dinners or minister level only.
    Restricted,
    /// Not invited.
    None,
}

impl From<ParticipationArg> for SummitParticipation {
    fn from(value: ParticipationArg) -> Self {
        match value {
            ParticipationArg::Full => SummitParticipation::Full,
            ParticipationArg::Restricted => SummitParticipation::Restricted,
            ParticipationArg::None => SummitParticipation::None,
        }
    }
}

/// A mission status, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MissionStatusArg {
    /// Proposed, not launched.
    Proposed,
    /// Running.
    Active,
    /// Ending decided; running down until its end date.
    DrawingDown,
    /// Ended.
    Terminated,
}

impl From<MissionStatusArg> for MissionStatus {
    fn from(value: MissionStatusArg) -> Self {
        match value {
            MissionStatusArg::Proposed => MissionStatus::Proposed,
            MissionStatusArg::Active => MissionStatus::Active,
            MissionStatusArg::DrawingDown => MissionStatus::DrawingDown,
            MissionStatusArg::Terminated => MissionStatus::Terminated,
        }
    }
}

/// A proposal state, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProposalStateArg {
    /// Open for ballots.
    Open,
    /// Adopted (its effects applied).
    Adopted,
    /// Rejected.
    Rejected,
    /// Reached its deadline without a decision.
    Expired,
    /// Withdrawn by its sponsor.
    Withdrawn,
}

impl From<ProposalStateArg> for ProposalState {
    fn from(value: ProposalStateArg) -> Self {
        match value {
            ProposalStateArg::Open => ProposalState::Open,
            ProposalStateArg::Adopted => ProposalState::Adopted,
            ProposalStateArg::Rejected => ProposalState::Rejected,
            ProposalStateArg::Expired => ProposalState::Expired,
            ProposalStateArg::Withdrawn => ProposalState::Withdrawn,
        }
    }
}

/// A proposal kind, as a flag value (the names of the `create` subcommands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProposalKindArg {
    /// Launch a mission.
    LaunchMission,
    /// End a mission.
    EndMission,
    /// Resize a mission.
    ResizeMission,
    /// Extend a mission.
    ExtendMission,
    /// Set a partner's summit participation.
    SummitParticipation,
    /// A generic motion.
    Motion,
}

impl From<ProposalKindArg> for ProposalKind {
    fn from(value: ProposalKindArg) -> Self {
        match value {
            ProposalKindArg::LaunchMission => ProposalKind::LaunchMission,
            ProposalKindArg::EndMission => ProposalKind::EndMission,
            ProposalKindArg::ResizeMission => ProposalKind::ResizeMission,
            ProposalKindArg::ExtendMission => ProposalKind::ExtendMission,
            ProposalKindArg::SummitParticipation => ProposalKind::SetSummitParticipation,
            ProposalKindArg::Motion => ProposalKind::GenericMotion,
        }
    }
}

/// A decision procedure, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProcedureArg {
    /// Members cast ballots until the deadline or until the result can no longer change.
    Open,
    /// Adopted at the deadline unless a member objects.
    Silence,
}

impl From<ProcedureArg> for Procedure {
    fn from(value: ProcedureArg) -> Self {
        match value {
            ProcedureArg::Open => Procedure::OpenVote,
            ProcedureArg::Silence => Procedure::Silence,
        }
    }
}

/// A ballot choice, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChoiceArg {
    /// Supports the proposal.
    Support,
    /// Objects (under the silence procedure: breaks silence).
    Object,
    /// Abstains.
    Abstain,
}

impl From<ChoiceArg> for Choice {
    fn from(value: ChoiceArg) -> Self {
        match value {
            ChoiceArg::Support => Choice::Support,
            ChoiceArg::Object => Choice::Object,
            ChoiceArg::Abstain => Choice::Abstain,
        }
    }
}

/// Parses a calendar date, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("`{text}` is not a date YYYY-MM-DD ({e})"))?;
    use chrono::Datelike;
    Ok(Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    })
}

/// Parses an RFC 3339 timestamp, e.g. `2026-03-01T12:00:00Z`.
pub fn parse_rfc3339(text: &str) -> Result<prost_types::Timestamp, String> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        format!("`{text}` is not an RFC 3339 timestamp such as 2026-03-01T12:00:00Z ({e})")
    })?;
    Ok(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    })
}

/// Parses a duration: numbers with units s, m, h, d, w, e.g. `90s`, `2h`, `14d`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration such as 90s, 2h, 14d or 1h30m");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Parses a ballot position: a date (`YYYY-MM-DD`) or an amount (`2500`).
pub fn parse_position(text: &str) -> Result<Position, String> {
    let value = if let Ok(date) = parse_date(text) {
        position::Value::Date(date)
    } else if let Ok(amount) = text.trim().parse::<f64>() {
        position::Value::Amount(amount)
    } else {
        return Err(format!(
            "`{text}` is neither a date (YYYY-MM-DD) nor an amount (a number)"
        ));
    };
    Ok(Position { value: Some(value) })
}

/// Parses an acceptable range, `LOW..HIGH` (either end may be empty).
pub fn parse_range(text: &str) -> Result<accord_proto::v1::AcceptableRange, String> {
    let Some((low, high)) = text.split_once("..") else {
        return Err(format!(
            "`{text}` is not LOW..HIGH (e.g. 2026-12-31..2027-09-30 or 2500..4000)"
        ));
    };
    let end = |t: &str| -> Result<Option<Position>, String> {
        if t.trim().is_empty() {
            Ok(None)
        } else {
            parse_position(t).map(Some)
        }
    };
    let range = accord_proto::v1::AcceptableRange {
        low: end(low)?,
        high: end(high)?,
    };
    if range.low.is_none() && range.high.is_none() {
        return Err("give at least one end of the range".to_string());
    }
    Ok(range)
}

/// The rule of `evaluate --what-could-pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgreementRuleArg {
    /// Every member must accept the value.
    Unanimity,
    /// The members accepting the value must hold the quota of the weight.
    QualifiedMajority,
}

/// What a member weighs under `--what-could-pass qualified-majority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ZoneWeightArg {
    /// One member, one vote.
    Equal,
    /// Defence spending (US$ million).
    DefenceSpending,
    /// GDP (US$ billion).
    Gdp,
    /// Population (million).
    Population,
}

/// Parses `key=value`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not key=value")),
    }
}

/// Whether `segment` starts a new `key=value` pair in a policy spec: its key is a parameter
/// name (lower snake case).
fn starts_parameter(segment: &str) -> bool {
    segment.split_once('=').is_some_and(|(key, _)| {
        key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Parses `ID` or `ID:key=value,key=value` into a policy reference. A comma followed by text
/// that is not `lower_snake_key=` continues the previous value (for per-member numbers such as
/// `susceptibility=DEU=0.2,FRA=0.1`).
pub fn parse_policy_spec(text: &str) -> Result<PolicyRef, String> {
    let (id, rest) = match text.split_once(':') {
        Some((id, rest)) => (id.trim(), Some(rest)),
        None => (text.trim(), None),
    };
    let id = id.strip_prefix("policies/").unwrap_or(id);
    if id.is_empty() {
        return Err(format!("`{text}` names no policy"));
    }
    let mut parameters: Vec<(String, String)> = Vec::new();
    let rest = rest.map(str::trim).unwrap_or("");
    for segment in rest.split(',').filter(|_| !rest.is_empty()) {
        if starts_parameter(segment) {
            let (key, value) = segment.split_once('=').expect("checked");
            parameters.push((key.to_string(), value.to_string()));
        } else if let Some((_, value)) = parameters.last_mut() {
            value.push(',');
            value.push_str(segment);
        } else {
            return Err(format!(
                "`{text}`: parameters are ID:key=value,key=value (got `{segment}`)"
            ));
        }
    }
    Ok(PolicyRef {
        policy_id: id.to_string(),
        parameters: parameters.into_iter().collect(),
    })
}

/// Parses a hypothetical ballot, `CODE=support|object|abstain`.
pub fn parse_ballot_spec(text: &str) -> Result<(String, Choice), String> {
    let (member, choice) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not CODE=support|object|abstain"))?;
    let choice = ChoiceArg::from_str(choice.trim(), true)
        .map_err(|_| format!("`{choice}` is not support, object or abstain"))?;
    if member.trim().is_empty() {
        return Err(format!("`{text}` names no member"));
    }
    Ok((member.trim().to_string(), choice.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_dates_and_positions_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("90").is_err());
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(
            parse_date("2026-09-30"),
            Ok(Date {
                year: 2026,
                month: 9,
                day: 30
            })
        );
        assert!(parse_date("2026-02-30").is_err());
        assert!(matches!(
            parse_position("2027-03-31").unwrap().value,
            Some(position::Value::Date(_))
        ));
        assert_eq!(
            parse_position("2500").unwrap().value,
            Some(position::Value::Amount(2500.0))
        );
        assert!(parse_position("soon").is_err());
        assert!(parse_rfc3339("2026-03-01T12:00:00Z").is_ok());
        assert!(parse_rfc3339("tomorrow").is_err());
    }

    #[test]
    fn policy_specs_parse_with_member_number_values() {
        let p = parse_policy_spec("pressure:trials=20000,mode=deterministic").unwrap();
        assert_eq!(p.policy_id, "pressure");
        assert_eq!(p.parameters["trials"], "20000");
        assert_eq!(p.parameters["mode"], "deterministic");
        let p = parse_policy_spec("policies/pressure:susceptibility=DEU=0.2,FRA=0.1,trials=10")
            .unwrap();
        assert_eq!(p.policy_id, "pressure");
        assert_eq!(p.parameters["susceptibility"], "DEU=0.2,FRA=0.1");
        assert_eq!(p.parameters["trials"], "10");
        let p = parse_policy_spec("weighted").unwrap();
        assert!(p.parameters.is_empty());
        assert!(
            parse_policy_spec("weighted:")
                .unwrap()
                .parameters
                .is_empty()
        );
        assert!(parse_policy_spec(":x=1").is_err());
        assert!(parse_policy_spec("weighted:DEU").is_err());
        assert_eq!(
            parse_ballot_spec("HUN=object"),
            Ok(("HUN".to_string(), Choice::Object))
        );
        assert!(parse_ballot_spec("HUN=maybe").is_err());
    }

    #[test]
    fn global_options_parse_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "accord",
            "members",
            "show",
            "USA",
            "--json",
            "--addr",
            "http://127.0.0.1:1",
        ])
        .unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.addr, "http://127.0.0.1:1");
        let cli = Cli::try_parse_from([
            "accord",
            "proposals",
            "create",
            "resize-mission",
            "KFOR",
            "--ceiling",
            "-5",
            "--title",
            "t",
            "--sponsor",
            "USA",
            "--deadline-in",
            "2h",
        ])
        .unwrap();
        let Command::Proposals(ProposalsCommand::Create(CreateAction::ResizeMission {
            ceiling,
            common,
            ..
        })) = cli.command
        else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(ceiling, -5);
        assert!(common.deadline().is_some());
        assert!(
            Cli::try_parse_from([
                "accord",
                "proposals",
                "create",
                "motion",
                "--text",
                "x",
                "--title",
                "t",
                "--sponsor",
                "USA",
                "--deadline",
                "2030-01-01T00:00:00Z",
                "--deadline-in",
                "2h",
            ])
            .is_err(),
            "--deadline and --deadline-in conflict"
        );
    }
}

/// Where a policy library runs (`--isolation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolation {
    /// In the server's process.
    InProcess,
    /// In its own `accord-policy-runner` process: a crash costs only the calls in flight.
    Isolated,
}

impl Isolation {
    /// The protocol value of an optional choice (unspecified: the server chooses).
    pub fn to_proto(choice: Option<Self>) -> i32 {
        use accord_proto::v1::PolicyIsolation;
        (match choice {
            None => PolicyIsolation::Unspecified,
            Some(Self::InProcess) => PolicyIsolation::InProcess,
            Some(Self::Isolated) => PolicyIsolation::Isolated,
        }) as i32
    }
}
