//! Checks of the names a person typed, before a command changes anything: a provider opencode
//! knows (`catalogue`), a model of it, a provider the store has, an event type that exists. Each
//! refusal names the thing and what to do; nothing is changed.

use anyhow::bail;

use super::catalogue::{Catalogue, Verdict};
use super::{AccountsCmd, Command, PriorityCmd};
use crate::api::{NoParams, ProviderFilter};
use crate::model::EventKind;
use crate::runtime::Runtime;

/// What to check before a command runs.
pub enum Check {
    Nothing,
    /// A provider an account is being added to.
    NewAccount(String),
    /// A model set for a provider in the priority list.
    Model {
        provider: String,
        model: String,
    },
    /// A provider whose accounts are listed.
    Listed(String),
    EventType(String),
}

impl Check {
    /// What `command` needs checked (nothing with `--force`).
    pub fn of(command: &Command) -> Check {
        match command {
            Command::Accounts(AccountsCmd::Add {
                provider, force: false, ..
            }) => Check::NewAccount(provider.clone()),
            Command::Accounts(AccountsCmd::List { provider: Some(p), .. }) => Check::Listed(p.clone()),
            Command::Priority(PriorityCmd::Model {
                provider,
                model,
                force: false,
            }) => Check::Model {
                provider: provider.clone(),
                model: model.trim().to_string(),
            },
            Command::Events { kind: Some(k), .. } => Check::EventType(k.clone()),
            _ => Check::Nothing,
        }
    }
}

/// `Ok(Some(note))` when the command may go on but the person should know something.
pub async fn check(check: &Check, rt: &Runtime) -> anyhow::Result<Option<String>> {
    match check {
        Check::Nothing => Ok(None),
        Check::NewAccount(p) => {
            known_provider(p, &catalogue(rt).await?, "saved")?;
            Ok(None)
        }
        Check::Model { provider, model } => {
            // No model (clears it), or one the call itself refuses without repeating it.
            if !matches!(crate::model::validate_model(Some(model)), Ok(Some(_))) {
                return Ok(None);
            }
            let c = catalogue(rt).await?;
            known_provider(provider, &c, "changed")?;
            match c.model(provider, model) {
                Verdict::Known => Ok(None),
                Verdict::Unknown(near) => bail!(refusal(
                    &format!("unknown model {model} for {provider}"),
                    near,
                    "nothing was changed (add --force to use it anyway)"
                )),
                Verdict::Unchecked => Ok(Some(format!(
                    "note: the models of {provider} are not known here (no list in opencode's config or models.dev cache), so {model} was not checked"
                ))),
            }
        }
        Check::Listed(p) => {
            let have = store_providers(rt).await?;
            if !have.contains(p) {
                let known = if have.is_empty() {
                    "none yet".to_string()
                } else {
                    have.join(", ")
                };
                bail!("no provider {p} in the store (providers: {known})");
            }
            Ok(None)
        }
        Check::EventType(kind) => {
            if !EventKind::ALL.iter().any(|k| k.as_str() == kind) {
                let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                bail!("unknown event type {kind}; known: {}", known.join(", "));
            }
            Ok(None)
        }
    }
}

fn known_provider(p: &str, c: &Catalogue, verb: &str) -> anyhow::Result<()> {
    match c.provider(p) {
        Verdict::Known | Verdict::Unchecked => Ok(()),
        Verdict::Unknown(near) => bail!(refusal(
            &format!("unknown provider {p}"),
            near,
            &format!("nothing was {verb} (for a custom provider, add --force)")
        )),
    }
}

/// "unknown X; did you mean Y? Nothing was …", or without a suggestion "unknown X; nothing was …".
fn refusal(head: &str, near: Option<String>, tail: &str) -> String {
    match near {
        Some(n) => {
            let mut t = tail.chars();
            let first = t
                .next()
                .map(|c| c.to_uppercase().collect::<String>())
                .unwrap_or_default();
            format!("{head}; did you mean {n}? {first}{}", t.as_str())
        }
        None => format!("{head}; {tail}"),
    }
}

/// Providers with saved accounts or in the priority list, sorted, once each.
async fn store_providers(rt: &Runtime) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = rt
        .priority_list(NoParams {})
        .await?
        .into_iter()
        .map(|e| e.provider_id)
        .collect();
    let accounts = rt.accounts_list(ProviderFilter::default()).await?;
    ids.extend(accounts.into_iter().map(|a| a.provider_id));
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

async fn catalogue(rt: &Runtime) -> anyhow::Result<Catalogue> {
    Ok(Catalogue::load(store_providers(rt).await?))
}
