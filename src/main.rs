//! The `idpipe` command line: dry runs of the pipeline and the issuers.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc as the process allocator. Why: argon2id allocates 19 MiB per password check; glibc
/// keeps those blocks in its arenas after they are freed, so a server that checked passwords in
/// parallel stayed at ~1 GB. mimalloc returns freed memory to the system (measured in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    idpipe::purge_freed_memory_at_once();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into());
    // IDPIPE_LOG_FORMAT=json: one JSON object per line (with the request span's id), for log shippers.
    if std::env::var("IDPIPE_LOG_FORMAT").is_ok_and(|v| v == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        // Colours only for a terminal: a log file or a journal gets plain text.
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
    let cli = cli::args::Cli::parse();
    match cli::run(cli) {
        Ok((out, ok)) if out.is_empty() => {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Ok((out, ok)) => {
            // A closed stdout (e.g. `| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{out}");
            if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("idpipe: {}", e.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
