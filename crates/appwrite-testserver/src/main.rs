use std::net::SocketAddr;

use clap::Parser;

/// In-memory Appwrite stand-in (REST + Realtime subset) with fault injection.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Project ID clients must send.
    #[arg(long, default_value = "leadboard")]
    project: String,
    /// API key clients may send in X-Appwrite-Key.
    #[arg(long, default_value = "test-api-key")]
    api_key: String,
    /// Seed for fault-injection randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config =
        appwrite_testserver::Config { addr: args.addr, project: args.project, api_key: args.api_key, seed: args.seed };
    let running = appwrite_testserver::spawn(config).await?;
    // Tests read this first line to find the port.
    println!("listening on http://{}", running.addr);
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
