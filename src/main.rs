//! Entry point: parses the command line and runs the sidecar, a CLI command, the demo or the installer.

use std::io::Write;

use clap::Parser;
use opencode_balancer::cli::{self, Cli, Command};
use opencode_balancer::rpc::server::Backend;
use opencode_balancer::{clock, rpc, runtime::Runtime, store};

/// Logs go to stderr; the dashboard owns the terminal, so there they are off unless
/// `OPENCODE_BALANCER_LOG` asks for them. Colour only when stderr is a terminal and
/// `NO_COLOR` is unset or empty: a pipe or a file gets plain text.
fn init_logging(verbose: u8, dashboard: bool) {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let default = match verbose {
        _ if dashboard => "off",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENCODE_BALANCER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}

/// Keeps every thread's allocations in glibc's one main arena. By default a thread that finds it
/// busy gets an arena of its own: the store thread's, once a failover's bookkeeping write met the
/// actor thread allocating, held about 1 MiB more of resident memory for good (docs/performance.md).
/// The sidecar's threads rarely allocate at once, so sharing costs nothing measurable.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any other thread exists; mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Runs the sidecar (with `background`: the auth watcher and usage polling too); on a clean end the process exits at once, because the runtime would
/// otherwise wait for the thread blocked reading stdin.
fn serve(store_path: &std::path::Path, background: bool) -> anyhow::Result<()> {
    one_malloc_arena();
    let sys = actix::System::new();
    let path = store_path.to_path_buf();
    let result = sys.block_on(async move {
        let backend = match Runtime::start(&path, clock::from_env()) {
            Ok(rt) => {
                if background && std::env::var_os("OPENCODE_BALANCER_NO_WATCH").is_none() {
                    rt.watch_logins();
                } else if let Some(problem) = rt.mirror_host_once().await {
                    // No watcher here (the TUI's sidecar): opencode 2's credentials as they are
                    // now, so its dashboard lists them even before any request started a watcher.
                    tracing::warn!("{problem}");
                }
                if background {
                    rt.poll_usage();
                    rt.keep_tokens();
                }
                tracing::info!(store = %path.display(), "sidecar ready");
                Backend::Live(rt)
            }
            Err(e) => {
                tracing::error!(error = %e, "the store is unavailable; requests pass through untouched");
                Backend::StoreUnavailable(e.to_string())
            }
        };
        let stdin = tokio::io::BufReader::with_capacity(64 * 1024, rpc::stdio::stdin());
        rpc::server::serve(backend, stdin, rpc::stdio::stdout()).await?;
        Ok::<_, anyhow::Error>(())
    });
    if result.is_ok() {
        std::process::exit(0);
    }
    result
}

fn install(args: &cli::InstallArgs, remove: bool) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?;
    let binary = binary.canonicalize().unwrap_or(binary);
    let paths = opencode_balancer::install::Paths::from_env();
    let hosts = opencode_balancer::install::hosts::resolve(args.host, &paths);
    let request = opencode_balancer::install::dispatch::Request {
        config: args.config,
        npm: args.npm,
        dry_run: args.dry_run,
        remove,
    };
    let out = opencode_balancer::install::dispatch::run(&paths, &binary, &hosts, request)?;
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose, matches!(cli.command, Command::Dashboard));
    let store_path = cli.store.clone().unwrap_or_else(store::default_store_path);
    let result = match cli.command {
        Command::Serve { no_background } => serve(&store_path, !no_background),
        Command::Dashboard => opencode_balancer::dashboard::run(&store_path, clock::from_env()),
        Command::Install(a) => install(&a, false),
        Command::Uninstall(a) => install(&a, true),
        Command::Bench {
            iterations,
            accounts,
            idle,
            continuity,
            registry,
            baseline,
        } => match idle {
            Some(secs) => {
                opencode_balancer::bench::idle(std::time::Duration::from_secs(secs.max(1)), baseline.as_deref())
            }
            None if continuity => opencode_balancer::bench::continuity(opencode_balancer::bench::CONTINUITY_ROUNDS),
            None if registry => opencode_balancer::bench::registry(&accounts, baseline.as_deref()),
            None => opencode_balancer::bench::run(iterations, &accounts, baseline.as_deref()),
        }
        .map(|out| {
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
        }),
        Command::Doctor(f) => {
            let (text, failed) = opencode_balancer::doctor::command(&store_path, f.json);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            if failed {
                Err(anyhow::anyhow!("doctor found a problem"))
            } else {
                Ok(())
            }
        }
        Command::Demo => opencode_balancer::demo::run().map(|out| {
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
        }),
        command => cli::run(&store_path, clock::from_env(), command).map(|out| {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
        }),
    };
    if let Err(e) = result {
        let text = format!("{e:#}");
        let _ = writeln!(
            std::io::stderr(),
            "error: {}",
            opencode_balancer::safe_text::safe_lines(&text)
        );
        std::process::exit(1);
    }
}
