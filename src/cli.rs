//! The server binary's subcommands.

use crate::domain::{Password, Role, Username};
use crate::server::config::{Config, StoreConfig};
use crate::server::{seed, store, transfer, AppState};
use clap::{Parser, Subcommand};
use leptos::prelude::get_configuration;

#[derive(Parser)]
#[command(name = "leadboard", about = "Leadboard: a live lead board where exactly one claimant wins")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app (the default). An empty store stays empty: create the first manager with
    /// `users add NAME --role manager`.
    Serve {
        /// Seed demo accounts (public password "demo1234") and leads into an empty store, as
        /// `demo_data = true` does. For trying Leadboard out, never on a network.
        #[arg(long)]
        demo: bool,
    },
    /// Add demo accounts and leads; what exists is kept.
    Seed {
        #[arg(long, default_value_t = 240)]
        leads: usize,
        /// Generated employees `user001`, `user002`, ... (password `demo1234`), besides alice, bob and carol.
        #[arg(long, default_value_t = 0)]
        employees: usize,
    },
    /// Add leads from a CSV file (columns mapped from its header, as the import page guesses).
    /// Prints rows added, skipped and refused; fails only when the file cannot be read.
    Import {
        file: std::path::PathBuf,
        /// The column (by header) that identifies rows without lead IDs across imports.
        #[arg(long)]
        key: Option<String>,
    },
    /// Write the board as CSV to standard output, or with `--history` the claims, lost claims,
    /// releases and reassigns of a period.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long)]
        history: bool,
        /// The period's first day (`2026-03-01`; default: 7 days before `--to`).
        #[arg(long, requires = "history")]
        from: Option<String>,
        /// The period's last day, included (default: now).
        #[arg(long, requires = "history")]
        to: Option<String>,
    },
    /// Manage accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The Appwrite store (`store.kind = "appwrite"`).
    Appwrite {
        #[command(subcommand)]
        command: AppwriteCommand,
    },
}

#[derive(Subcommand)]
enum AppwriteCommand {
    /// Create the database, collections, attributes, indexes, permissions and the Realtime
    /// service user in the configured project. Safe to run again: what exists is kept; an
    /// existing leads collection only gets Leadboard's own attributes and indexes.
    Setup {
        /// Print what would be created, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account.
    Add {
        username: String,
        #[arg(long, default_value = "employee")]
        role: String,
        /// The password; read from LEADBOARD_PASSWORD when omitted.
        #[arg(long, env = "LEADBOARD_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load()?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.app.log)
        .map_err(|e| format!("log filter {:?}: {e}", config.app.log))?;
    tracing_subscriber::fmt().with_env_filter(filter).init();
    if let Some(Command::Appwrite { command: AppwriteCommand::Setup { dry_run } }) = &cli.command {
        let StoreConfig::Appwrite(cfg) = &config.store else {
            return Err("`appwrite setup` needs store.kind = \"appwrite\" (or LEADBOARD_STORE=appwrite)".into());
        };
        let report = store::appwrite::schema::run(cfg, *dry_run).await?;
        let verb = if report.dry_run { "would create" } else { "created" };
        println!(
            "Appwrite project {} database {}: {verb} {}, already there {}",
            cfg.project,
            cfg.database,
            report.created.len(),
            report.existing.len()
        );
        for what in &report.created {
            println!("  {verb} {what}");
        }
        for note in &report.notes {
            println!("  note: {note}");
        }
        return Ok(());
    }
    let mut leptos = get_configuration(None)?.leptos_options;
    leptos.site_addr = config.app.site_addr;
    let state = AppState::open(config, leptos)?;

    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => {
            if let Some(line) = seed::on_start(&state, demo || state.config.app.demo_data).await? {
                println!("{line}");
            }
            println!("Leadboard on http://{}", state.config.app.site_addr);
            crate::site::serve(state).await?;
        }
        Command::Seed { leads, employees } => {
            let (accounts, leads) = seed::seed(&state, leads, employees).await?;
            println!("added {accounts} demo accounts (password \"{}\") and {leads} leads", seed::DEMO_PASSWORD);
        }
        Command::Import { file, key } => {
            let report = transfer_cli::import(&state, &file, key.as_deref()).await?;
            println!("{}", report.summary());
            for issue in report.skipped.iter().chain(&report.refused).take(50) {
                println!("  row {}: {}", issue.row, issue.reason);
            }
        }
        Command::Export { out, history, from, to } => {
            let text = match history {
                true => transfer_cli::history(&state, from.as_deref(), to.as_deref()).await?,
                false => transfer::write::leads(&state.leads.snapshot().await?.leads),
            };
            match out {
                Some(path) => std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?,
            }
        }
        Command::Appwrite { .. } => unreachable!("handled before the store is opened"),
        Command::Users { command: UsersCommand::Add { username, role, password } } => {
            let username = Username::parse(username)?;
            let role = Role::parse(&role)?;
            if !seed::ensure_user(&state, &username, role, &Password::parse(password)?).await? {
                return Err(format!("user {username} already exists").into());
            }
            println!("added {} {username}", role.as_str());
        }
    }
    Ok(())
}

/// `import` and `export --history`, as the CSV endpoints do them.
mod transfer_cli {
    use crate::domain::import::{ImportReport, Mapping};
    use crate::domain::Username;
    use crate::server::transfer::{read, time, write};
    use crate::server::AppState;

    /// Who the board's feed names for leads the command line imported.
    const ACTOR: &str = "cli";

    pub async fn import(state: &AppState, file: &std::path::Path, key: Option<&str>) -> Result<ImportReport, String> {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let table = read::read(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        let key = match key {
            Some(k) => Some(table.headers.iter().position(|h| h == k).ok_or_else(|| format!("no column {k:?}"))?),
            None => None,
        };
        let mapping = Mapping { key, ..Mapping::guess(&table.headers) };
        let plan = state.importer.plan(&table, &mapping).await.map_err(|e| e.to_string())?;
        let actor = Username::parse(ACTOR).expect("a valid username");
        Ok(state.importer.run(plan, &actor, |_, _| {}).await)
    }

    pub async fn history(state: &AppState, from: Option<&str>, to: Option<&str>) -> Result<String, String> {
        let (from, to) = time::period(from, to, crate::server::now_ms())?;
        let events = state.leads.history(from, to, write::MAX_HISTORY).await.map_err(|e| e.to_string())?;
        Ok(write::history(&events))
    }
}
