//! A user's changes to the provider priority list: a provider's model, whether balancing may pick
//! it, its place, its removal. Each answers the whole list as it is after the change.

use actix::prelude::*;

use super::{mutation, provider, Committing, Reload};
use crate::accounts::{AccountRegistry, RegistryError};
use crate::model::{validate_model, EventKind, NewEvent, PriorityDirection, PriorityEntry};

#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<PriorityEntry>, RegistryError>")]
pub struct SetPriorityModel {
    pub provider_id: String,
    pub model_id: Option<String>,
}

#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<PriorityEntry>, RegistryError>")]
pub struct SetPriorityEnabled {
    pub provider_id: String,
    pub enabled: bool,
}

#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<PriorityEntry>, RegistryError>")]
pub struct MovePriority {
    pub provider_id: String,
    pub direction: PriorityDirection,
}

/// Refused while the provider has saved accounts.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<PriorityEntry>, RegistryError>")]
pub struct RemovePriority {
    pub provider_id: String,
}

mutation! {
    SetPriorityModel => set_priority_model;
    SetPriorityEnabled => set_priority_enabled;
    MovePriority => move_priority;
    RemovePriority => remove_priority;
}

type Priority = Result<Committing<Vec<PriorityEntry>>, RegistryError>;

impl AccountRegistry {
    fn set_priority_model(&mut self, m: SetPriorityModel) -> Priority {
        let p = provider(&m.provider_id)?;
        let model = validate_model(m.model_id.as_deref()).map_err(RegistryError::InvalidValue)?;
        let (p2, m2) = (p.clone(), model.clone());
        Ok(self.commit(
            Reload::Meta,
            move |s| s.set_priority_model(&p2, m2.as_deref()),
            move |this, ()| {
                let shown = model.as_deref().unwrap_or("none");
                this.publish(
                    NewEvent::new(EventKind::PriorityChanged, format!("{p} model set to {shown}"))
                        .provider(&p)
                        .meta("model", shown),
                );
                Ok(this.state.priority.clone())
            },
        ))
    }

    fn set_priority_enabled(&mut self, m: SetPriorityEnabled) -> Priority {
        let (p, enabled) = (provider(&m.provider_id)?, m.enabled);
        let p2 = p.clone();
        Ok(self.commit(
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
                Ok(this.state.priority.clone())
            },
        ))
    }

    fn move_priority(&mut self, m: MovePriority) -> Priority {
        let (p, direction) = (provider(&m.provider_id)?, m.direction);
        let p2 = p.clone();
        Ok(self.commit(
            Reload::Meta,
            move |s| s.move_priority(&p2, direction),
            move |this, moved| {
                if moved {
                    let word = direction.word();
                    this.publish(NewEvent::new(EventKind::PriorityChanged, format!("{p} moved {word}")).provider(&p));
                }
                Ok(this.state.priority.clone())
            },
        ))
    }

    fn remove_priority(&mut self, m: RemovePriority) -> Priority {
        let p = provider(&m.provider_id)?;
        let p2 = p.clone();
        Ok(self.commit(
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
                Ok(this.state.priority.clone())
            },
        ))
    }
}
