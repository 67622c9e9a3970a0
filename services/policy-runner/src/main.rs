//! `accord-policy-runner`: runs one policy library in its own process for `accord-server`'s
//! isolated mode, answering decision requests over standard input and output (the protocol is
//! in this crate's library, `docs/plugin-abi.md` describes it).
//!
//! Guarantee: whatever the library does — crash, abort, exit, hang, leak — happens in this
//! process only; the server sees the pipe close (or kills the process at the time limit) and
//! fails only the calls in flight. Before the library is loaded the process limits itself:
//! address space (`RLIMIT_AS`, so a leak ends in a failed allocation and an abort, not in the
//! machine's memory) and CPU time (`RLIMIT_CPU`, refreshed after every answered call, so that the
//! budget is "CPU time spent without answering anything": a spinning call is killed by SIGXCPU
//! even when the server's clock limit is long). The runner exits when its input closes, so it
//! never outlives the server.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use accord_policy_runner::{
    HELLO_ID, HELLO_REFUSED, Incoming, KEPT_ELECTORATES, hello_frame, parse_request, read_frame,
    reply_frame, write_frame,
};
use accord_policy_sdk::abi::Status;
use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::host::{CallError, PolicyLibrary};
use clap::Parser;
use nix::sys::resource::{RLIM_INFINITY, Resource, UsageWho, getrusage, setrlimit};
use prost::Message;

/// Runs one accord policy library out of the server's process (isolated mode).
#[derive(Debug, Parser)]
#[command(name = "accord-policy-runner", version)]
struct Args {
    /// The policy library to load.
    #[arg(long)]
    library: PathBuf,
    /// Refuse the library unless its SHA-256 (lower-case hex) is this.
    #[arg(long)]
    sha256: Option<String>,
    /// Address-space limit of this process in MiB (RLIMIT_AS); 0: none.
    #[arg(long, default_value_t = 1024)]
    memory_limit_mb: u64,
    /// CPU seconds this process may spend without answering a call (RLIMIT_CPU); 0: none.
    #[arg(long, default_value_t = 30)]
    cpu_seconds: u64,
    /// Calls decided at once (worker threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let output = Arc::new(Mutex::new(std::io::stdout()));
    let send = |frame: &[u8]| -> bool {
        let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
        write_frame(&mut *out, frame).is_ok()
    };
    let refuse = |message: String| {
        eprintln!("accord-policy-runner: {message}");
        send(&reply_frame(HELLO_ID, HELLO_REFUSED, message.as_bytes()));
        ExitCode::from(2)
    };

    if args.memory_limit_mb > 0 {
        let bytes = args.memory_limit_mb.saturating_mul(1 << 20);
        if let Err(e) = setrlimit(Resource::RLIMIT_AS, bytes, bytes) {
            return refuse(format!("cannot limit the address space: {e}"));
        }
    }
    let cpu_budget = args.cpu_seconds;
    if let Err(e) = refresh_cpu_limit(cpu_budget) {
        return refuse(format!("cannot limit CPU time: {e}"));
    }

    let library = match PolicyLibrary::load(&args.library) {
        Ok(library) => library,
        Err(e) => return refuse(e.to_string()),
    };
    if let Some(expected) = &args.sha256 {
        let found = &library.identity().library_sha256;
        if found != expected {
            return refuse(format!(
                "{} has SHA-256 {found}, expected {expected}",
                args.library.display()
            ));
        }
    }
    if !send(&hello_frame(&library.descriptor().encode_to_vec())) {
        return ExitCode::from(3);
    }

    // Workers decide; the main thread reads. Replies go out in the order they are ready.
    // The electorates the server sent, newest last; a call takes the one it names with it.
    let mut electorates: std::collections::VecDeque<Arc<ElectorateSnapshot>> =
        std::collections::VecDeque::new();
    let (calls, queue) = mpsc::channel::<(u64, Option<Arc<ElectorateSnapshot>>, Vec<u8>)>();
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..args.threads.max(1) {
        let queue = queue.clone();
        let library = library.clone();
        let output = output.clone();
        std::thread::spawn(move || {
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((id, electorate, request)) = next else {
                    return;
                };
                let answer = match &electorate {
                    Some(electorate) => library.decide_bytes_in(electorate, &request),
                    None => library.decide_bytes(&request),
                };
                let frame = match answer {
                    Ok(answer) => reply_frame(id, Status::Ok as i32, &answer),
                    Err(error) => reply_frame(id, status_of(&error), error.to_string().as_bytes()),
                };
                let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                if write_frame(&mut *out, &frame).is_err() {
                    std::process::exit(0); // the server is gone
                }
                drop(out);
                let _ = refresh_cpu_limit(cpu_budget);
            }
        });
    }

    let mut input = std::io::stdin().lock();
    loop {
        match read_frame(&mut input) {
            // The server closed the pipe: stop at once, even with calls still running.
            Ok(None) => {
                let _ = std::io::stderr().flush();
                std::process::exit(0);
            }
            Ok(Some(body)) => match parse_request(&body) {
                Ok(Incoming::Electorate { id, members_field }) => {
                    electorates.retain(|e| e.id() != id);
                    if electorates.len() >= KEPT_ELECTORATES {
                        electorates.pop_front();
                    }
                    electorates.push_back(Arc::new(ElectorateSnapshot::from_parts(
                        id,
                        members_field.to_vec(),
                    )));
                }
                Ok(Incoming::Call {
                    id,
                    electorate,
                    request,
                }) => {
                    let named = if electorate == 0 {
                        None
                    } else if let Some(found) = electorates.iter().find(|e| e.id() == electorate) {
                        Some(found.clone())
                    } else {
                        let message = format!("electorate {electorate} is not held by this runner");
                        if !send(&reply_frame(
                            id,
                            Status::UnknownElectorate as i32,
                            message.as_bytes(),
                        )) {
                            return ExitCode::from(3);
                        }
                        continue;
                    };
                    if calls.send((id, named, request.to_vec())).is_err() {
                        return ExitCode::from(3);
                    }
                }
                Err(e) => {
                    eprintln!("accord-policy-runner: {e}");
                    std::process::exit(4);
                }
            },
            Err(e) => {
                eprintln!("accord-policy-runner: cannot read a request: {e}");
                std::process::exit(4);
            }
        }
    }
}

/// The ABI status code for a failed call.
fn status_of(error: &CallError) -> i32 {
    (match error {
        CallError::InvalidRequest(_) => Status::InvalidRequest,
        CallError::InvalidParameter(_) => Status::InvalidParameter,
        CallError::Failed(_) | CallError::BadResponse(_) => Status::Failed,
        CallError::Panicked(_) => Status::Panicked,
    }) as i32
}

/// Sets the soft CPU limit to the CPU time used so far plus `budget` seconds (none if 0).
fn refresh_cpu_limit(budget: u64) -> nix::Result<()> {
    if budget == 0 {
        return Ok(());
    }
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let used = usage.user_time().tv_sec() + usage.system_time().tv_sec();
    setrlimit(
        Resource::RLIMIT_CPU,
        (used.max(0) as u64)
            .saturating_add(budget)
            .saturating_add(1),
        RLIM_INFINITY,
    )
}
