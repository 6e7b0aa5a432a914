//! One typed call of the API planned from a command line (`plan`), which `run` makes on the
//! runtime and shows.

use futures::future::LocalBoxFuture;

use super::show::{Human, Shown};
use crate::api::{ApiResult, Request};
use crate::model::normalize_alias;
use crate::runtime::Runtime;

/// One typed call of the API, planned from a command line: the method, the alias a save asked
/// for (normalized, for the hint when it is taken), and the call itself.
pub(super) struct Call {
    pub(super) method: &'static str,
    pub(super) asked: Option<String>,
    pub(super) run: Box<dyn for<'a> FnOnce(&'a Runtime) -> Calling<'a>>,
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
