use clap::Parser;
use std::time::Duration;

/// After `serve` returns (its own shutdown is bounded, see `http::SHUTDOWN_GRACE`), how long
/// blocking work still running (a store read) may delay the exit.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(leadboard::server::cli::run(leadboard::server::cli::Cli::parse()));
    // Tasks still running (boards cut at the end of the grace period) are dropped here, and
    // the process does not wait on blocking work for more than a moment.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
