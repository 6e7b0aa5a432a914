//! Read-only look-ups into the retry balancer's session bindings (`session.get`): which
//! provider, model and account a session is on. Nothing here changes a binding.

use actix::prelude::*;

use super::{RetryBalancer, SessionBinding, SessionOf};

impl Handler<SessionOf> for RetryBalancer {
    type Result = Option<SessionBinding>;
    fn handle(&mut self, msg: SessionOf, _: &mut Context<Self>) -> Option<SessionBinding> {
        self.sessions.get(&msg.session_id).map(|s| SessionBinding {
            model: s.model.clone(),
            alias: s.alias.clone(),
            switched_to: s.switched_to.clone(),
        })
    }
}
