//! The `kubers` binary: argument parsing and wiring only.

mod agent;
mod node_ip;
mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kubers: a Kubernetes-compatible container orchestrator in one binary.
#[derive(Debug, Parser)]
#[command(name = "kubers", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane and an embedded node agent: a single-node cluster.
    Server(server::ServerArgs),
    /// Run a node agent that joins a cluster.
    Agent(agent::AgentArgs),
    /// Stop every pod of this node's agent and its containerd (they keep running when the agent stops).
    Killall(agent::KillallArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KUBERS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kubers: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Server(args) => runtime.block_on(server::run(args)),
        Command::Agent(args) => runtime.block_on(agent::run(args)),
        Command::Killall(args) => runtime.block_on(agent::killall(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kubers: {error}");
            ExitCode::FAILURE
        }
    }
}
