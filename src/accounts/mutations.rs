//! User mutations of the registry: validated, committed to the store, reloaded into memory,
//! evented, then acknowledged.

use actix::prelude::*;

use super::messages::{Mutate, MutationReply, RegistryError};
use super::state::Scope;
use super::{read_back, AccountRegistry, Flushed};
use crate::model::{normalize_alias, validate_model, validate_provider, EventKind, NewEvent, Settings};
use crate::store::{Store, StoreError};

pub(super) type Reply = Result<MutationReply, RegistryError>;

// Neither error repeats the value given: a credential pasted in the wrong place must not come back.
fn provider(raw: &str) -> Result<String, RegistryError> {
    validate_provider(raw.trim())
        .map(str::to_string)
        .ok_or_else(|| RegistryError::InvalidName("invalid provider id: use 1 to 64 of A-Z a-z 0-9 . _ -".into()))
}

fn alias(raw: &str) -> Result<String, RegistryError> {
    normalize_alias(raw).ok_or_else(|| {
        RegistryError::InvalidName("invalid alias: it must keep 1 to 64 of a-z 0-9 . _ - once normalized".into())
    })
}

/// What a mutation reads back into memory once it is committed: no more than it can have
/// changed, so a change to one account costs the same whatever the provider holds.
pub(super) enum Reload {
    All,
    Provider(String),
    /// These accounts of the provider (those gone are dropped) and its active account.
    Accounts(String, Vec<String>),
    /// The priority, settings and pending count only (every reload has them).
    Meta,
}

impl Reload {
    fn accounts(provider: &str, aliases: &[&str]) -> Reload {
        Reload::Accounts(provider.to_string(), aliases.iter().map(|a| a.to_string()).collect())
    }

    fn scope(&self) -> Scope<'_> {
        match self {
            Reload::All => Scope::All,
            Reload::Provider(p) => Scope::Provider(p),
            Reload::Accounts(p, aliases) => Scope::Accounts(p, aliases),
            Reload::Meta => Scope::Meta,
        }
    }
}

/// Toasts one read of auth.json may show, one per new login; past that, one counts the rest.
const MAX_CAPTURE_TOASTS: usize = 3;

impl AccountRegistry {
    /// Runs `op` in the store (after pending bookkeeping), reads back what it changed
    /// (`reload`), applies it, then lets `then` build the reply and events from fresh memory.
    pub(super) fn commit<T: Send + 'static>(
        &mut self,
        reload: Reload,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        then: impl FnOnce(&mut Self, T) -> Reply + 'static,
    ) -> ResponseActFuture<Self, Reply> {
        self.commit_with(move |_| reload, op, then)
    }

    /// [`Self::commit`] where what to read back depends on what `op` did. When another process
    /// committed meanwhile, everything is read instead (as a sync would).
    fn commit_with<T: Send + 'static>(
        &mut self,
        reload: impl FnOnce(&T) -> Reload + Send + 'static,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        then: impl FnOnce(&mut Self, T) -> Reply + 'static,
    ) -> ResponseActFuture<Self, Reply> {
        let flush = self.state.take_flush();
        let id = flush.id;
        let known = self.data_version;
        let job = move |s: &mut Store| {
            let written = s.apply_runtime(&flush.patches, &flush.actives);
            let then = op(s).and_then(|out| {
                let reload = reload(&out);
                let read = read_back(s, known, reload.scope())?;
                Ok((out, reload, read))
            });
            Flushed { written, then }
        };
        self.store_job(job, move |this, result| {
            let (generation, (out, reload, read)) = this.settle(id, result)?;
            this.read_back_applied(read, reload.scope(), generation);
            then(this, out)
        })
    }

    /// An event for each capture that did something; a toast for each of the first few, then one
    /// that counts the rest (a file with thousands of new logins is not thousands of toasts).
    fn announce_captures(&self, out: &[(String, crate::store::Captured)]) {
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
    fn announce_capture(&self, p: &str, out: &crate::store::Captured) -> Option<String> {
        use crate::store::{Captured, LinkedBy};
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

    fn account_reply(&self, provider: &str, alias: &str) -> Reply {
        self.state
            .view(provider, alias, self.now())
            .map(|v| MutationReply::Account(Box::new(v)))
            .ok_or_else(|| {
                RegistryError::Store(StoreError::NotFound {
                    provider: provider.into(),
                    alias: alias.into(),
                })
            })
    }
}

impl Handler<Mutate> for AccountRegistry {
    type Result = ResponseActFuture<Self, Reply>;

    fn handle(&mut self, msg: Mutate, _: &mut Context<Self>) -> Self::Result {
        match self.prepare(msg) {
            Ok(fut) => fut,
            Err(e) => Box::pin(actix::fut::ready(Err(e))),
        }
    }
}

impl AccountRegistry {
    fn prepare(&mut self, msg: Mutate) -> Result<ResponseActFuture<Self, Reply>, RegistryError> {
        let now = self.now();
        Ok(match msg {
            Mutate::Save {
                provider_id,
                alias: raw_alias,
                auth,
                replace,
            } => {
                let (p, a) = (provider(&provider_id)?, alias(&raw_alias)?);
                self.refuse_host_owned(&p, &a, super::host::HostAction::Replace)?;
                let (p2, a2) = (p.clone(), a.clone());
                self.commit(
                    Reload::accounts(&p, &[&a]),
                    move |s| s.save_account_as(&p2, &a2, &auth, now, replace),
                    move |this, out| {
                        let (kind, verb) = if out.created {
                            (EventKind::AccountSaved, "saved")
                        } else {
                            (EventKind::AccountUpdated, "updated")
                        };
                        this.publish(NewEvent::new(kind, format!("{p}/{a} {verb} and made active")).account(&p, &a));
                        this.account_reply(&p, &a)
                    },
                )
            }
            Mutate::Rename { provider_id, from, to } => {
                let (p, from, to) = (provider(&provider_id)?, alias(&from)?, alias(&to)?);
                self.refuse_host_owned(&p, &from, super::host::HostAction::Rename)?;
                let (p2, f2, t2) = (p.clone(), from.clone(), to.clone());
                self.commit(
                    Reload::accounts(&p, &[&from, &to]),
                    move |s| s.rename_account(&p2, &f2, &t2, now),
                    move |this, ()| {
                        this.publish(
                            NewEvent::new(EventKind::AccountRenamed, format!("{p}/{from} renamed to {to}"))
                                .account(&p, &to)
                                .meta("from", &from),
                        );
                        this.account_reply(&p, &to)
                    },
                )
            }
            Mutate::Remove {
                provider_id,
                alias: raw,
            } => {
                let (p, a) = (provider(&provider_id)?, alias(&raw)?);
                self.refuse_host_owned(&p, &a, super::host::HostAction::Remove)?;
                let (p2, a2) = (p.clone(), a.clone());
                self.commit(
                    Reload::accounts(&p, &[&a]),
                    move |s| s.remove_account(&p2, &a2),
                    move |this, removed| {
                        if removed {
                            this.publish(
                                NewEvent::new(EventKind::AccountRemoved, format!("{p}/{a} removed")).account(&p, &a),
                            );
                        }
                        Ok(MutationReply::Removed(removed))
                    },
                )
            }
            Mutate::Activate {
                provider_id,
                alias: raw,
            } => {
                let (p, a) = (provider(&provider_id)?, alias(&raw)?);
                self.refuse_host_owned(&p, &a, super::host::HostAction::Activate)?;
                let (p2, a2) = (p.clone(), a.clone());
                self.commit(
                    Reload::accounts(&p, &[]),
                    move |s| s.activate(&p2, &a2),
                    move |this, ()| {
                        this.publish(
                            NewEvent::new(EventKind::AccountActivated, format!("{p}/{a} is now active"))
                                .account(&p, &a),
                        );
                        this.account_reply(&p, &a)
                    },
                )
            }
            Mutate::SetDisabled {
                provider_id,
                alias: raw,
                disabled,
            } => {
                let (p, a) = (provider(&provider_id)?, alias(&raw)?);
                let (p2, a2) = (p.clone(), a.clone());
                self.commit(
                    Reload::accounts(&p, &[&a]),
                    move |s| s.set_disabled(&p2, &a2, disabled, now),
                    move |this, changed| {
                        if changed {
                            let (kind, word) = if disabled {
                                (EventKind::AccountDisabled, "disabled")
                            } else {
                                (EventKind::AccountEnabled, "enabled")
                            };
                            this.publish(NewEvent::new(kind, format!("{p}/{a} {word}")).account(&p, &a));
                        }
                        this.account_reply(&p, &a)
                    },
                )
            }
            Mutate::ResetCooldown {
                provider_id,
                alias: raw,
            } => {
                let (p, a) = (provider(&provider_id)?, alias(&raw)?);
                let (p2, a2) = (p.clone(), a.clone());
                // Bookkeeping queued before the reset is written ahead of it (this job's flush);
                // any observed at the old epoch after it is refused by the store (reset_epoch).
                self.commit(
                    Reload::accounts(&p, &[&a]),
                    move |s| s.reset_cooldown(&p2, &a2),
                    move |this, ()| {
                        this.publish(
                            NewEvent::new(EventKind::CooldownCleared, format!("{p}/{a} cooldown cleared"))
                                .account(&p, &a)
                                .meta("source", "user"),
                        );
                        this.account_reply(&p, &a)
                    },
                )
            }
            Mutate::PriorityModel { provider_id, model_id } => {
                let p = provider(&provider_id)?;
                let model = validate_model(model_id.as_deref()).map_err(RegistryError::InvalidValue)?;
                let (p2, m2) = (p.clone(), model.clone());
                self.commit(
                    Reload::Meta,
                    move |s| s.set_priority_model(&p2, m2.as_deref()),
                    move |this, ()| {
                        let shown = model.as_deref().unwrap_or("none");
                        this.publish(
                            NewEvent::new(EventKind::PriorityChanged, format!("{p} model set to {shown}"))
                                .provider(&p)
                                .meta("model", shown),
                        );
                        Ok(MutationReply::Priority(this.state.priority.clone()))
                    },
                )
            }
            Mutate::PriorityEnabled { provider_id, enabled } => {
                let p = provider(&provider_id)?;
                let p2 = p.clone();
                self.commit(
                    Reload::Meta,
                    move |s| s.set_priority_enabled(&p2, enabled),
                    move |this, changed| {
                        if changed {
                            let word = if enabled { "enabled" } else { "disabled" };
                            this.publish(
                                NewEvent::new(EventKind::PriorityChanged, format!("{p} {word} in the priority list"))
                                    .provider(&p),
                            );
                        }
                        Ok(MutationReply::Priority(this.state.priority.clone()))
                    },
                )
            }
            Mutate::PriorityMove { provider_id, direction } => {
                let p = provider(&provider_id)?;
                let p2 = p.clone();
                self.commit(
                    Reload::Meta,
                    move |s| s.move_priority(&p2, direction),
                    move |this, moved| {
                        if moved {
                            let word = direction.word();
                            this.publish(
                                NewEvent::new(EventKind::PriorityChanged, format!("{p} moved {word}")).provider(&p),
                            );
                        }
                        Ok(MutationReply::Priority(this.state.priority.clone()))
                    },
                )
            }
            Mutate::PriorityRemove { provider_id } => {
                let p = provider(&provider_id)?;
                let p2 = p.clone();
                self.commit(
                    Reload::Meta,
                    move |s| s.remove_priority(&p2),
                    move |this, ()| {
                        this.publish(
                            NewEvent::new(
                                EventKind::PriorityChanged,
                                format!("{p} removed from the priority list"),
                            )
                            .provider(&p),
                        );
                        Ok(MutationReply::Priority(this.state.priority.clone()))
                    },
                )
            }
            Mutate::SavePending {
                id,
                alias: raw,
                replace,
            } => {
                let a = alias(&raw)?;
                let a2 = a.clone();
                let a3 = a.clone();
                self.commit_with(
                    move |(p, _): &(String, _)| Reload::accounts(p, &[&a3]),
                    move |s| s.save_pending_as(&id, &a2, now, replace),
                    move |this, (p, out)| {
                        let kind = if out.created {
                            EventKind::AccountSaved
                        } else {
                            EventKind::AccountUpdated
                        };
                        this.publish(
                            NewEvent::new(kind, format!("{p}/{a} saved from a pending connection")).account(&p, &a),
                        );
                        this.account_reply(&p, &a)
                    },
                )
            }
            Mutate::DismissPending { id } => self.commit(
                Reload::Meta,
                move |s| s.dismiss_pending(&id),
                |_, dismissed| Ok(MutationReply::Dismissed(dismissed)),
            ),
            Mutate::Capture { entries, source, hints } => {
                let auto_save = self.state.settings.auto_save;
                let reload = match entries.as_slice() {
                    [(p, _)] => Reload::Provider(provider(p)?),
                    _ => Reload::All,
                };
                self.commit(
                    reload,
                    move |s| s.capture_all(&entries, &hints, auto_save, &source, now),
                    move |this, out| {
                        this.announce_captures(&out);
                        Ok(MutationReply::Captured(out))
                    },
                )
            }
            Mutate::Setting(setting) => {
                let key = setting.key();
                let shown = setting.stored();
                let mut next: Settings = self.state.settings.clone();
                next.apply(setting)
                    .map_err(|e| RegistryError::InvalidValue(e.to_string()))?;
                let stored = shown.clone();
                self.commit(
                    Reload::Meta,
                    move |s| s.save_setting(key, &stored),
                    move |this, ()| {
                        let event = if key == "balancing" {
                            let word = if this.state.settings.balancing { "on" } else { "off" };
                            NewEvent::new(EventKind::BalancingChanged, format!("balancing {word}"))
                        } else {
                            NewEvent::new(EventKind::SettingsChanged, format!("{key} set to {shown}"))
                        };
                        this.publish(event.meta("key", key).meta("value", &shown));
                        Ok(MutationReply::Settings(this.state.settings.clone()))
                    },
                )
            }
        })
    }
}
