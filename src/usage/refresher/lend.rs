//! `LendCredential`: the plugin lent the secret of an opencode 2 credential (`credentials.lend`);
//! it is kept in memory (`usage::lent`) and the accounts are looked at again, so the account is
//! read from now on.

use actix::prelude::*;

use super::UsageRefresher;
use crate::usage::lent::LentSecret;

#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct LendCredential {
    pub provider_id: String,
    pub credential_id: String,
    pub secret: LentSecret,
}

impl Handler<LendCredential> for UsageRefresher {
    type Result = ();
    fn handle(&mut self, msg: LendCredential, ctx: &mut Context<Self>) {
        self.lent.lend(&msg.provider_id, &msg.credential_id, msg.secret);
        // The next look at the accounts takes them all, with this one now readable.
        self.fingerprint = 0;
        let look = self.tick();
        ctx.spawn(look);
    }
}
