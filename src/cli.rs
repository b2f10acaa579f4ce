//! The server binary's subcommands.

use crate::domain::{Password, Role, Username};
use crate::server::config::{Config, StoreConfig};
use crate::server::{seed, store, AppState};
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
