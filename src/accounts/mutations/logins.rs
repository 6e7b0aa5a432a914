//! Logins that reach the registry without a user naming them: the captures of one read of
//! opencode's auth.json (saved, linked or left pending, each announced), and the user's save or
//! dismissal of a pending one.

use actix::prelude::*;

use super::{alias, mutation, provider, Committing, Reload};
use crate::accounts::{AccountRegistry, RegistryError};
use crate::model::{AccountView, Auth, EventKind, NewEvent};
use crate::store::{CaptureHint, Captured};

/// Saves a pending login as `alias`; refused with `Exists` when the alias is in use, unless
/// `replace`.
#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct SavePending {
    pub id: String,
    pub alias: String,
    pub replace: bool,
}

/// Forgets a pending login; answers whether there was one.
#[derive(Message, Debug)]
#[rtype(result = "Result<bool, RegistryError>")]
pub struct DismissPending {
    pub id: String,
}

/// The credentials of one read of opencode's auth.json that changed since the last one
/// (provider id, credential), captured in one store job.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<(String, Captured)>, RegistryError>")]
pub struct Capture {
    pub entries: Vec<(String, Auth)>,
    pub source: String,
    /// What the watcher learnt of some entries (by provider id): Claude's profile subject,
    /// the credential the entry replaced.
    pub hints: std::collections::BTreeMap<String, CaptureHint>,
}

mutation! {
    SavePending => save_pending;
    DismissPending => dismiss_pending;
    Capture => capture;
}

/// Toasts one read of auth.json may show, one per new login; past that, one counts the rest.
const MAX_CAPTURE_TOASTS: usize = 3;

impl AccountRegistry {
    fn save_pending(&mut self, m: SavePending) -> Result<Committing<AccountView>, RegistryError> {
        let now = self.now();
        let SavePending {
            id,
            alias: raw,
            replace,
        } = m;
        let a = alias(&raw)?;
        let a2 = a.clone();
        let a3 = a.clone();
        Ok(self.commit_with(
            move |(p, _): &(String, _)| Reload::accounts(p, &[&a3]),
            move |s| s.save_pending_as(&id, &a2, now, replace),
            move |this, (p, out)| {
                let kind = if out.created {
                    EventKind::AccountSaved
                } else {
                    EventKind::AccountUpdated
                };
                this.publish(NewEvent::new(kind, format!("{p}/{a} saved from a pending connection")).account(&p, &a));
                this.account_reply(&p, &a)
            },
        ))
    }

    fn dismiss_pending(&mut self, DismissPending { id }: DismissPending) -> Result<Committing<bool>, RegistryError> {
        Ok(self.commit(
            Reload::Meta,
            move |s| s.dismiss_pending(&id),
            |_, dismissed| Ok(dismissed),
        ))
    }

    fn capture(&mut self, m: Capture) -> Result<Committing<Vec<(String, Captured)>>, RegistryError> {
        let now = self.now();
        let Capture { entries, source, hints } = m;
        let auto_save = self.state.settings.auto_save;
        let reload = match entries.as_slice() {
            [(p, _)] => Reload::Provider(provider(p)?),
            _ => Reload::All,
        };
        Ok(self.commit(
            reload,
            move |s| s.capture_all(&entries, &hints, auto_save, &source, now),
            move |this, out| {
                this.announce_captures(&out);
                Ok(out)
            },
        ))
    }

    /// An event for each capture that did something; a toast for each of the first few, then one
    /// that counts the rest (a file with thousands of new logins is not thousands of toasts).
    fn announce_captures(&self, out: &[(String, Captured)]) {
        use crate::events::{Notice, Notify, ToastVariant};
        let mut toasts = Vec::new();
        for (p, c) in out {
            toasts.extend(self.announce_capture(p, c));
        }
        let more = toasts.len().saturating_sub(MAX_CAPTURE_TOASTS);
        toasts.truncate(MAX_CAPTURE_TOASTS);
        if more > 0 {
            toasts.push(format!(
                "opencode-balancer captured {more} more logins from auth.json: `opencode-balancer accounts list` and `pending list` show them"
            ));
        }
        for message in toasts {
            self.bus.do_send(Notify(Notice::Toast {
                message,
                variant: ToastVariant::Success,
            }));
        }
    }

    /// Publishes the event of one capture; returns its toast, if it has one.
    fn announce_capture(&self, p: &str, out: &Captured) -> Option<String> {
        use crate::store::LinkedBy;
        match out {
            Captured::Saved { alias } => {
                self.publish(
                    NewEvent::new(
                        EventKind::AccountSaved,
                        format!("{p}/{alias} saved from a new login and made active"),
                    )
                    .account(p, alias)
                    .meta("source", "auth.json"),
                );
                Some(format!("opencode-balancer saved your {p} login as \"{alias}\""))
            }
            Captured::Updated { alias } => {
                self.publish(
                    NewEvent::new(
                        EventKind::AccountUpdated,
                        format!("{p}/{alias} credential refreshed from auth.json"),
                    )
                    .account(p, alias)
                    .meta("source", "auth.json"),
                );
                None
            }
            Captured::Linked { alias, by } => {
                let how = match by {
                    LinkedBy::Profile => "its Claude profile names this account",
                    LinkedBy::PreviousEntry => {
                        "it replaced this account's expiring token in auth.json; its profile could not be read"
                    }
                };
                self.publish(
                    NewEvent::new(
                        EventKind::AccountUpdated,
                        format!("{p}/{alias} credential refreshed from auth.json ({how})"),
                    )
                    .account(p, alias)
                    .meta("source", "auth.json")
                    .meta("linkedBy", by.as_str()),
                );
                (*by == LinkedBy::PreviousEntry).then(|| {
                    format!(
                        "opencode-balancer linked the new {p} login to \"{alias}\": it replaced that login's expiring token, and its Claude profile could not be read to confirm. If it is a different account, rename this one (`opencode-balancer accounts rename {p} {alias} NEW`) and log in to the other again with /connect {p}"
                    )
                })
            }
            Captured::Pending { id } => {
                self.publish(
                    NewEvent::new(
                        EventKind::PendingConnectionCaptured,
                        format!("a new {p} login is waiting to be saved ({id})"),
                    )
                    .provider(p)
                    .meta("id", id),
                );
                Some(format!(
                    "New {p} login captured: save it with `opencode-balancer pending save {id} <alias>`"
                ))
            }
            Captured::Unchanged { .. } | Captured::AlreadyPending { .. } => None,
        }
    }
}
