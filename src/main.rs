use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match leadboard::server::cli::run(leadboard::server::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
