//! Command-line interface: clap definitions. Every command runs over the same store and the same
//! method table as the sidecar (see `run.rs`).

mod catalogue;
mod checks;
mod credential;
mod plan;
mod run;
mod show;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use run::run;

#[derive(Parser, Debug)]
#[command(
    name = "opencode-balancer",
    version,
    about = "Keeps opencode working across rate limits and quotas."
)]
pub struct Cli {
    /// The store file (default: $OPENCODE_CONFIG_DIR, else $XDG_CONFIG_HOME/opencode, else ~/.config/opencode, + balancer.sqlite).
    #[arg(long, global = true, env = "OPENCODE_BALANCER_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// More log detail on stderr (-v info, -vv debug, -vvv trace). OPENCODE_BALANCER_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the sidecar: JSON-RPC over stdin/stdout (started by the opencode plugin).
    Serve {
        /// A client-only sidecar (the TUI plugin's): no auth.json watcher, no usage polling;
        /// it still answers every method and tells its host when another process changed the store.
        #[arg(long)]
        no_background: bool,
    },
    /// Show a failover on a temporary store and a local mock provider.
    Demo,
    /// Terminal dashboard: accounts, health, usage, priority and events, live.
    Dashboard,
    /// Balancing, accounts and the store in one look.
    Status(JsonFlag),
    /// Saved accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Logins captured while autoSave is off, waiting to be saved or dismissed.
    #[command(subcommand)]
    Pending(PendingCmd),
    /// The provider priority list used when balancing is on.
    #[command(subcommand)]
    Priority(PriorityCmd),
    /// Turn balancing on or off, or show it.
    Balancing {
        #[arg(value_parser = ["on", "off", "status"])]
        state: String,
        #[arg(long)]
        json: bool,
    },
    /// Read or change settings.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Recent events, newest first.
    Events {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Only events of this type (e.g. failover_performed).
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Quota per account: the latest usage snapshots (`--refresh` reads them from the providers now).
    Usage {
        /// Read every account's usage from its provider now, then show it.
        #[arg(long)]
        refresh: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check the store, auth.json, the plugin (and how it is installed) and the sidecar; exit non-zero on a problem.
    Doctor(JsonFlag),
    /// Make opencode load the plugin on its next start.
    Install(InstallArgs),
    /// Undo `install`.
    Uninstall(InstallArgs),
    /// Measure the hot path over pipes against the real sidecar.
    Bench {
        /// Round trips per measurement.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        /// Account counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
        accounts: Vec<usize>,
        /// Instead: measure idle cost (wakeups, CPU) over this many seconds.
        #[arg(long, value_name = "SECONDS")]
        idle: Option<u64>,
        /// Instead: measure only the continuity edit on ~1 MiB bodies (in process).
        #[arg(long, conflicts_with = "idle")]
        continuity: bool,
        /// Instead: only the registry section (account saves, failover spread, memory).
        #[arg(long)]
        registry: bool,
        /// Another build of the binary, measured in the same run (the new-store and registry sections, and --idle).
        #[arg(long, value_name = "BINARY")]
        baseline: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// Add a file:// entry to opencode.json(c) instead of writing into the global plugin folder.
    #[arg(long, conflicts_with = "npm")]
    pub config: bool,
    /// Add the npm package's name to opencode.json(c) and tui.json(c) instead (as `opencode plugin
    /// opencode-balancer -g` does); opencode installs the package and its binary.
    #[arg(long)]
    pub npm: bool,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Which opencode to configure; default: each found (`opencode --version` on PATH, else the
    /// files each leaves), opencode 1 when none is.
    #[arg(long, value_enum)]
    pub host: Option<crate::install::hosts::HostChoice>,
}

#[derive(Subcommand, Debug)]
pub enum AccountsCmd {
    /// List accounts.
    List {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Save an account; the credential (auth JSON or a bare API key, at most 1 MiB) is read from
    /// stdin, or typed (not shown) after a prompt at a terminal. An alias already in use is
    /// refused unless --replace.
    Add {
        provider: String,
        alias: String,
        /// Replace the credential of an existing account with this alias.
        #[arg(long)]
        replace: bool,
        /// Accept a provider opencode does not know here (a custom provider not in opencode.json).
        #[arg(long)]
        force: bool,
    },
    Rename {
        provider: String,
        from: String,
        to: String,
    },
    Remove {
        provider: String,
        alias: String,
    },
    /// Make an account its provider's active one.
    Use {
        provider: String,
        alias: String,
    },
    Enable {
        provider: String,
        alias: String,
    },
    Disable {
        provider: String,
        alias: String,
    },
    /// Clear an account's cooldown and failure count now.
    Reset {
        provider: String,
        alias: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PendingCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Save a pending login as an account; an alias already in use is refused unless --replace.
    Save {
        id: String,
        alias: String,
        /// Replace the credential of an existing account with this alias.
        #[arg(long)]
        replace: bool,
    },
    /// Forget a pending login.
    Dismiss { id: String },
}

#[derive(Subcommand, Debug)]
pub enum PriorityCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set the model used for a provider when balancing picks it.
    Model {
        provider: String,
        model: String,
        /// Accept a model not in the provider's known model list.
        #[arg(long)]
        force: bool,
    },
    /// Take a provider out of the list (refused while it still has saved accounts).
    Remove {
        provider: String,
    },
    /// Move a provider up or down.
    Move {
        provider: String,
        #[arg(value_parser = ["up", "down"])]
        direction: String,
    },
    Enable {
        provider: String,
    },
    Disable {
        provider: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// All settings, or one.
    Get {
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Change a setting (validated).
    Set { key: String, value: String },
}
