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
    /// Appwrite release to imitate: 1.5, 1.6.0, 1.7, 1.8, 1.9.0 or 1.9.6.
    #[arg(long, env = "APPWRITE_TESTSERVER_VERSION", default_value_t = appwrite_testserver::Version::NEWEST)]
    appwrite_version: appwrite_testserver::Version,
    /// Document cache model: legacy (the cache of 1.5-1.9.0) or off. Default: the version's.
    #[arg(long, env = "APPWRITE_TESTSERVER_DOCUMENT_CACHE")]
    document_cache: Option<appwrite_testserver::CacheMode>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = appwrite_testserver::Config {
        addr: args.addr,
        project: args.project,
        api_key: args.api_key,
        seed: args.seed,
        version: args.appwrite_version,
        document_cache: args.document_cache,
    };
    let config_version = config.version;
    let running = appwrite_testserver::spawn(config).await?;
    // Tests read this first line to find the port.
    println!("listening on http://{}", running.addr);
    tracing::info!(version = %config_version, "imitating Appwrite");
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
