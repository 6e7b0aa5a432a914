//! Runs a CLI command: starts the runtime in-process on the store, calls the typed method the
//! sidecar answers the same command with, prints the result for people or (`--json`) as the
//! method's wire result.

use std::path::Path;

use anyhow::anyhow;
use futures::future::LocalBoxFuture;

use super::checks::{check, Check};
use super::plan::plan;
use super::show::{Human, Shown};
use super::Command;
use crate::api::methods::AccountsList;
use crate::api::{ApiError, ApiResult, Request};
use crate::clock::SharedClock;
use crate::model::normalize_alias;
use crate::runtime::Runtime;
use crate::safe_text;

/// One typed call of the API, planned from a command line: the method, the alias a save asked
/// for (normalized, for the hint when it is taken), and the call itself.
pub(super) struct Call {
    method: &'static str,
    asked: Option<String>,
    run: Box<dyn for<'a> FnOnce(&'a Runtime) -> Calling<'a>>,
}

/// A call under way: its result, to show.
type Calling<'a> = LocalBoxFuture<'a, ApiResult<Box<dyn Shown>>>;

impl Call {
    /// Calls `R` with `params`.
    pub(super) fn of<R>(params: R::Params) -> Call
    where
        R: Request + 'static,
        R::Params: 'static,
        R::Result: Human + 'static,
    {
        Call::lazy::<R>(move || Ok(params))
    }

    /// Calls `R` with params made only when it runs (`accounts add` reads its credential once
    /// the provider is checked).
    pub(super) fn lazy<R>(params: impl FnOnce() -> ApiResult<R::Params> + 'static) -> Call
    where
        R: Request + 'static,
        R::Params: 'static,
        R::Result: Human + 'static,
    {
        Call {
            method: R::METHOD,
            asked: None,
            run: Box::new(move |rt| {
                Box::pin(async move {
                    let result = R::call(rt, params()?).await?;
                    Ok(Box::new(result) as Box<dyn Shown>)
                })
            }),
        }
    }

    /// A save of `alias`: a refusal because it is taken says how to replace it.
    pub(super) fn saving(mut self, alias: &str) -> Call {
        self.asked = normalize_alias(alias);
        self
    }
}

/// Runs a store command (not serve/demo/install/bench) and returns its output text.
pub fn run(store: &Path, clock: SharedClock, command: Command) -> anyhow::Result<String> {
    let first = Check::of(&command);
    let (mut call, show, json_out) = plan(command)?;
    let store = store.to_path_buf();
    let sys = actix::System::new();
    let result = sys.block_on(async move {
        let rt = Runtime::start(&store, clock.clone()).map_err(|e| anyhow!("{e}"))?;
        let asked = call.asked.take();
        // What opencode 2 holds now, as the sidecar would have mirrored it.
        let host_problem = rt.mirror_host_once().await;
        if let (Some(problem), AccountsList::METHOD) = (&host_problem, call.method) {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "note: {}", safe_text::safe_lines(problem));
        }
        let out = match check(&first, &rt).await {
            Ok(note) => {
                if let Some(note) = note {
                    // A note, not a result: stdout keeps only the command's output.
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stderr().lock(), "{}", safe_text::safe_lines(&note));
                }
                (call.run)(&rt).await.map_err(|e| refusal(&e, asked.as_deref()))
            }
            Err(e) => Err(e),
        };
        // Also after a refusal: the runtime stops only once its actors have started.
        rt.flush().await;
        out.map(|v| (v, clock.now_ms()))
    });
    let (answer, now) = result?;
    if json_out {
        let json = answer.json()?;
        return Ok(format!("{}\n", safe_text::json_safe(&json)));
    }
    let text = answer.human(&show, now)?;
    Ok(safe_text::safe_lines(&text).into_owned())
}

/// A refused call as a person reads it. A save refused because its own alias is in use says how
/// to replace it; one refused because the same key is saved under another alias says that (the
/// key exists, not the alias: replacing would not help).
fn refusal(e: &ApiError, asked: Option<&str>) -> anyhow::Error {
    match e.existing_account() {
        Some((_, taken)) if asked == Some(taken) => {
            anyhow!("{e}; nothing was changed (add --replace to replace its credential)")
        }
        Some((provider, taken)) if asked.is_some() => {
            anyhow!("this key is already saved as {provider}/{taken}; nothing was changed")
        }
        _ => anyhow!("{e}"),
    }
}
