//! Accounts owned by opencode 2 in the registry: mirroring its credentials (`MirrorHost`, sent by
//! the auth watcher and the CLI after reading `opencode.db`), with an event per change, and the
//! refusal of what only opencode 2 may do to them (activate, remove, rename, replace).

use actix::prelude::*;

use super::messages::RegistryError;
use super::mutations::{Committing, Reload};
use super::AccountRegistry;
use crate::model::{EventKind, NewEvent};
use crate::opencode2::HostCredential;
use crate::store::Mirrored;

/// Makes the accounts owned by opencode 2 exactly these credentials (all it holds now).
#[derive(Message, Debug)]
#[rtype(result = "Result<Mirrored, RegistryError>")]
pub struct MirrorHost(pub Vec<HostCredential>);

/// A change only opencode 2 may make to its credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum HostAction {
    Activate,
    Remove,
    Rename,
    Replace,
}

impl AccountRegistry {
    /// Refuses `action` on an account opencode 2 owns, saying where to do it instead.
    pub(super) fn refuse_host_owned(
        &self,
        provider: &str,
        alias: &str,
        action: HostAction,
    ) -> Result<(), RegistryError> {
        let Some(id) = self
            .state
            .account(provider, alias)
            .and_then(|a| a.auth.host_credential())
        else {
            return Ok(());
        };
        let how = match action {
            HostAction::Activate => format!(
                "activate it in opencode 2: `opencode auth switch {provider} {id}` (or from the Balancer dashboard in opencode 2's TUI)"
            ),
            HostAction::Remove => {
                format!("remove it in opencode 2 (`opencode auth logout {provider} {id}`); it then disappears here")
            }
            HostAction::Rename => "rename it in opencode 2; the new label shows here by itself".into(),
            HostAction::Replace => "its credential is changed in opencode 2 (/connect)".into(),
        };
        Err(RegistryError::InvalidValue(format!(
            "{provider}/{alias} is opencode 2's credential {id}: {how}; nothing was changed"
        )))
    }

    fn announce_mirror(&self, out: &Mirrored) {
        for (p, a) in &out.added {
            self.publish(
                NewEvent::new(
                    EventKind::AccountSaved,
                    format!("{p}/{a} appeared in opencode 2's credentials"),
                )
                .account(p, a)
                .meta("source", crate::opencode2::OWNER),
            );
        }
        for (p, a) in &out.removed {
            self.publish(
                NewEvent::new(
                    EventKind::AccountRemoved,
                    format!("{p}/{a} was removed from opencode 2's credentials"),
                )
                .account(p, a)
                .meta("source", crate::opencode2::OWNER),
            );
        }
        for (p, from, to) in &out.renamed {
            self.publish(
                NewEvent::new(
                    EventKind::AccountRenamed,
                    format!("{p}/{from} renamed to {to} in opencode 2"),
                )
                .account(p, to)
                .meta("from", from)
                .meta("source", crate::opencode2::OWNER),
            );
        }
        for (p, a) in &out.activated {
            self.publish(
                NewEvent::new(
                    EventKind::AccountActivated,
                    format!("{p}/{a} is now active (opencode 2's choice)"),
                )
                .account(p, a)
                .meta("source", crate::opencode2::OWNER),
            );
        }
    }
}

impl Handler<MirrorHost> for AccountRegistry {
    type Result = Committing<Mirrored>;

    fn handle(&mut self, MirrorHost(credentials): MirrorHost, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        self.commit(
            Reload::All,
            move |s| s.mirror_host_credentials(&credentials, now),
            |this, out| {
                this.announce_mirror(&out);
                Ok(out)
            },
        )
    }
}
