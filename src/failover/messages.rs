//! The retry balancer's per-message choice of model (`chat.message`) and what it hands the host
//! to write as its own credential (`syncAuth`).

use actix::prelude::*;

use super::{RetryBalancer, Session};
use crate::accounts::ChooseModel;
use crate::model::Auth;
use crate::model::ModelRef;

/// `syncAuth`: the credential the host should write as its own.
#[derive(Debug, Clone)]
pub struct SyncAuth {
    pub provider_id: String,
    pub auth: Auth,
}

#[derive(Message)]
#[rtype(result = "Option<ModelRef>")]
pub struct ChatMessage {
    pub session_id: String,
    pub model: Option<ModelRef>,
}

impl Handler<ChatMessage> for RetryBalancer {
    type Result = ResponseActFuture<Self, Option<ModelRef>>;
    fn handle(&mut self, msg: ChatMessage, _: &mut Context<Self>) -> Self::Result {
        self.nudge_usage();
        let session = self
            .sessions
            .get(&msg.session_id)
            .map(|s| (s.model.clone(), s.alias.clone()));
        let host = msg.model.clone();
        let ask = self.registry.send(ChooseModel {
            host: msg.model,
            session,
        });
        Box::pin(ask.into_actor(self).map(move |chosen, this, _| {
            let chosen = chosen.ok().flatten();
            let now = this.clock.now_ms();
            if let Some(m) = chosen.clone().or(host.clone()) {
                let entry = this.sessions.entry(msg.session_id).or_insert(Session {
                    model: m.clone(),
                    alias: None,
                    seen_at: now,
                    switched_to: None,
                });
                if entry.model.provider_id != m.provider_id {
                    entry.alias = None;
                }
                entry.model = m;
                entry.seen_at = now;
            }
            chosen.filter(|c| Some(c) != host.as_ref())
        }))
    }
}
