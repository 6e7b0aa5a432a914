//! Read-only look-ups into the retry balancer's session bindings (`session.get`): which
//! provider, model and account a session is on. Nothing here changes a binding.

use actix::prelude::*;

use super::RetryBalancer;
use crate::model::ModelRef;

/// What the balancer knows of one session: the model of its last message or request, the account
/// its last request went out as (or the one kept for it), and the provider/model it last moved to.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionBinding {
    pub model: ModelRef,
    pub alias: Option<String>,
    pub switched_to: Option<String>,
}

#[derive(Message)]
#[rtype(result = "Option<SessionBinding>")]
pub struct SessionOf {
    pub session_id: String,
}

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
