//! The retry balancer's per-message choice of model (`chat.message`): the registry chooses, the
//! session remembers.

use actix::prelude::*;

use super::{ChatMessage, RetryBalancer, Session};
use crate::accounts::ChooseModel;
use crate::model::ModelRef;

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
