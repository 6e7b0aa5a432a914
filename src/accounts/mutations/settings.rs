//! A user's change to one setting (`balancing`, `failover`, `autoSave` …): validated against the
//! settings as they are, stored, evented; it answers every setting as it is after the change.

use actix::prelude::*;

use super::{mutation, Committing, Reload};
use crate::accounts::{AccountRegistry, RegistryError};
use crate::model::{EventKind, NewEvent, Setting, Settings};

#[derive(Message, Debug)]
#[rtype(result = "Result<Settings, RegistryError>")]
pub struct ChangeSetting(pub Setting);

mutation! {
    ChangeSetting => change_setting;
}

impl AccountRegistry {
    fn change_setting(&mut self, ChangeSetting(setting): ChangeSetting) -> Result<Committing<Settings>, RegistryError> {
        let key = setting.key();
        let shown = setting.stored();
        let mut next: Settings = self.state.settings.clone();
        next.apply(setting)
            .map_err(|e| RegistryError::InvalidValue(e.to_string()))?;
        let stored = shown.clone();
        Ok(self.commit(
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
                Ok(this.state.settings.clone())
            },
        ))
    }
}
