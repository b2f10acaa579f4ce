use clap::Parser;
use std::time::Duration;

/// After `serve` returns (its own shutdown is bounded, see `http::SHUTDOWN_GRACE`), how long
/// blocking work still running (a store read) may delay the exit.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// Every password check (Argon2id) allocates a large block on a blocking thread. Once such a block
/// is freed, glibc raises its mmap threshold, so later blocks come from per-thread arenas that keep
/// the memory, and the server grows with every burst of sign-ins (the README's bench results). A fixed
/// threshold gives every large block back to the system when it is freed.
#[allow(unsafe_code)] // the one unsafe call in the workspace
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_system();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(leadboard::cli::run(leadboard::cli::Cli::parse()));
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
