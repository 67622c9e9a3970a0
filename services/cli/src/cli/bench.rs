//! The arguments of `accord bench`: workloads, streams, connections, durations, policies.

use std::path::PathBuf;

use accord_proto::v1::PolicyRef;
use clap::{Args, ValueEnum};

/// The stream count the server's targets are stated at.
pub const TARGET_STREAMS: usize = 64;

/// One workload of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Workload {
    /// grpc.health.v1.Health/Check: the transport's ceiling.
    Health,
    /// GetMember, the members in turn: a read.
    GetMember,
    /// CastBallot (durable) on the bench's proposal, members and support/abstain in turn.
    Ballot,
    /// EvaluateProposal of the bench's proposal under the chosen policies.
    Evaluate,
}

impl Workload {
    /// The workload's name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Health => "health",
            Workload::GetMember => "get-member",
            Workload::Ballot => "ballot",
            Workload::Evaluate => "evaluate",
        }
    }
}

/// Policies for the evaluate workload: `ID[:k=v,…]`, or several ids separated by commas.
#[derive(Debug, Clone)]
pub struct PolicyList(pub Vec<PolicyRef>);

fn parse_policy_list(text: &str) -> Result<PolicyList, String> {
    if text.contains(':') {
        return super::parse_policy_spec(text).map(|p| PolicyList(vec![p]));
    }
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(super::parse_policy_spec)
        .collect::<Result<Vec<_>, _>>()
        .map(PolicyList)
}

fn parse_count(text: &str, max: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a number from 1 to {max}")),
    }
}

fn parse_streams(text: &str) -> Result<usize, String> {
    parse_count(text, 10_000)
}

fn parse_connections(text: &str) -> Result<usize, String> {
    parse_count(text, 256)
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds from 0 to 3600"
        )),
    }
}

/// `accord bench …`
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
    target/release/accord-server --database-url sqlite:///tmp/accord-bench.db &\n  \
    target/release/accord bench --streams 64 --seconds 10\n  \
    accord bench --workloads health,ballot --connections 4 --json\n  \
    accord bench --evaluate-policies unanimity,weighted --evaluate-policies pressure:trials=1000\n  \
    accord bench --embedded --seconds 2   (convenience only: client and server share one process)")]
pub struct BenchArgs {
    /// Concurrent streams (tasks, each with one request in flight at a time).
    #[arg(long, default_value_t = TARGET_STREAMS, value_parser = parse_streams, value_name = "N")]
    pub streams: usize,
    /// HTTP/2 connections the streams share (stream i uses connection i mod N).
    #[arg(long, default_value_t = 1, value_parser = parse_connections, value_name = "N")]
    pub connections: usize,
    /// Measured seconds per workload.
    #[arg(long, default_value = "10", value_parser = parse_seconds, value_name = "SECONDS")]
    pub seconds: f64,
    /// Warm-up seconds before each workload's measurement (requests not counted).
    #[arg(long, default_value = "2", value_parser = parse_seconds, value_name = "SECONDS")]
    pub warmup: f64,
    /// The workloads to run, in this order [default: all four].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WORKLOAD")]
    pub workloads: Vec<Workload>,
    /// Policies the evaluate workload decides under: `ID[:key=value,…]` or `ID,ID,…`
    /// (repeatable) [default: every loaded policy with its defaults; note the pressure
    /// policy's 100,000 Monte Carlo trials make that expensive].
    #[arg(long = "evaluate-policies", value_parser = parse_policy_list, value_name = "POLICIES")]
    pub evaluate_policies: Vec<PolicyList>,
    /// Time limit of each request, in seconds.
    #[arg(long, default_value = "30", value_parser = parse_seconds, value_name = "SECONDS")]
    pub request_timeout: f64,
    /// Leave the bench's proposal open at the end instead of withdrawing it.
    #[arg(long)]
    pub keep_proposal: bool,
    /// Start a server in this process (temporary database, bundled policies) instead of
    /// connecting to --addr. For convenience only: client and server then share one process
    /// and its threads, so report figures from a separately started release server.
    #[arg(long)]
    pub embedded: bool,
    /// Where the embedded server loads policy libraries from [default: next to this program].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lists_parse() {
        let l = parse_policy_list("unanimity,weighted").unwrap();
        assert_eq!(l.0.len(), 2);
        assert_eq!(l.0[1].policy_id, "weighted");
        let l = parse_policy_list("pressure:trials=1000,mode=deterministic").unwrap();
        assert_eq!(l.0.len(), 1);
        assert_eq!(l.0[0].parameters["trials"], "1000");
        assert!(parse_seconds("-1").is_err());
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
    }
}
