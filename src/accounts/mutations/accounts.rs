//! A user's changes to one saved account: save, rename, remove, activate, disable, reset its
//! cooldown. Each is one message with its own reply.

use actix::prelude::*;

use super::{alias, mutation, provider, Committing, Reload};
use crate::accounts::host::HostAction;
use crate::accounts::{AccountRegistry, RegistryError};
use crate::model::{AccountView, Auth, EventKind, NewEvent};

/// Saves a credential as `provider/alias` and makes it active; refused with `Exists` when the
/// alias is in use, unless `replace`.
#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct SaveAccount {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    pub replace: bool,
}

#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct RenameAccount {
    pub provider_id: String,
    pub from: String,
    pub to: String,
}

/// Answers whether there was such an account.
#[derive(Message, Debug)]
#[rtype(result = "Result<bool, RegistryError>")]
pub struct RemoveAccount {
    pub provider_id: String,
    pub alias: String,
}

#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct ActivateAccount {
    pub provider_id: String,
    pub alias: String,
}

#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct SetAccountDisabled {
    pub provider_id: String,
    pub alias: String,
    pub disabled: bool,
}

/// Clears an account's cooldown and failure count now.
#[derive(Message, Debug)]
#[rtype(result = "Result<AccountView, RegistryError>")]
pub struct ResetCooldown {
    pub provider_id: String,
    pub alias: String,
}

mutation! {
    SaveAccount => save_account;
    RenameAccount => rename_account;
    RemoveAccount => remove_account;
    ActivateAccount => activate_account;
    SetAccountDisabled => set_account_disabled;
    ResetCooldown => reset_cooldown;
}

impl AccountRegistry {
    fn save_account(&mut self, m: SaveAccount) -> Result<Committing<AccountView>, RegistryError> {
        let now = self.now();
        let (p, a) = (provider(&m.provider_id)?, alias(&m.alias)?);
        self.refuse_host_owned(&p, &a, HostAction::Replace)?;
        let (p2, a2, auth, replace) = (p.clone(), a.clone(), m.auth, m.replace);
        Ok(self.commit(
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
        ))
    }

    fn rename_account(&mut self, m: RenameAccount) -> Result<Committing<AccountView>, RegistryError> {
        let now = self.now();
        let (p, from, to) = (provider(&m.provider_id)?, alias(&m.from)?, alias(&m.to)?);
        self.refuse_host_owned(&p, &from, HostAction::Rename)?;
        let (p2, f2, t2) = (p.clone(), from.clone(), to.clone());
        Ok(self.commit(
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
        ))
    }

    fn remove_account(&mut self, m: RemoveAccount) -> Result<Committing<bool>, RegistryError> {
        let (p, a) = (provider(&m.provider_id)?, alias(&m.alias)?);
        self.refuse_host_owned(&p, &a, HostAction::Remove)?;
        let (p2, a2) = (p.clone(), a.clone());
        Ok(self.commit(
            Reload::accounts(&p, &[&a]),
            move |s| s.remove_account(&p2, &a2),
            move |this, removed| {
                if removed {
                    this.publish(NewEvent::new(EventKind::AccountRemoved, format!("{p}/{a} removed")).account(&p, &a));
                }
                Ok(removed)
            },
        ))
    }

    fn activate_account(&mut self, m: ActivateAccount) -> Result<Committing<AccountView>, RegistryError> {
        let (p, a) = (provider(&m.provider_id)?, alias(&m.alias)?);
        self.refuse_host_owned(&p, &a, HostAction::Activate)?;
        let (p2, a2) = (p.clone(), a.clone());
        Ok(self.commit(
            Reload::accounts(&p, &[]),
            move |s| s.activate(&p2, &a2),
            move |this, ()| {
                this.publish(
                    NewEvent::new(EventKind::AccountActivated, format!("{p}/{a} is now active")).account(&p, &a),
                );
                this.account_reply(&p, &a)
            },
        ))
    }

    fn set_account_disabled(&mut self, m: SetAccountDisabled) -> Result<Committing<AccountView>, RegistryError> {
        let now = self.now();
        let (p, a, disabled) = (provider(&m.provider_id)?, alias(&m.alias)?, m.disabled);
        let (p2, a2) = (p.clone(), a.clone());
        Ok(self.commit(
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
        ))
    }

    fn reset_cooldown(&mut self, m: ResetCooldown) -> Result<Committing<AccountView>, RegistryError> {
        let (p, a) = (provider(&m.provider_id)?, alias(&m.alias)?);
        let (p2, a2) = (p.clone(), a.clone());
        // Bookkeeping queued before the reset is written ahead of it (this job's flush);
        // any observed at the old epoch after it is refused by the store (reset_epoch).
        Ok(self.commit(
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
        ))
    }
}
