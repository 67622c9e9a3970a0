//! `accord`: the accord command line. Everything lives in the `accord_cli` library; see
//! `accord --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    accord_cli::run()
}
