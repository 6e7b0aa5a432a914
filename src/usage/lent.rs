//! Secrets the plugin lends for opencode 2's credentials (`credentials.lend`), so usage can be
//! read for accounts whose secret the balancer never stores: kept in memory only, as an [`Auth`]
//! (whose `Debug` never shows it; it is never serialised into an event, a log or a store row),
//! and forgotten when it expires or its account is gone.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;

use crate::model::{Auth, Millis};

/// The secret as the plugin sends it: `{type:"key", key}` or `{type:"oauth", access, expires?}`.
#[derive(Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LentSecret {
    Key {
        key: String,
    },
    Oauth {
        access: String,
        #[serde(default)]
        expires: Option<Millis>,
    },
}

impl fmt::Debug for LentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LentSecret::Key { .. } => f.write_str("LentSecret::Key([redacted])"),
            LentSecret::Oauth { expires, .. } => write!(f, "LentSecret::Oauth([redacted], expires {expires:?})"),
        }
    }
}

impl LentSecret {
    /// The credential a usage client reads with, and when it stops being usable.
    fn into_auth(self) -> (Auth, Option<Millis>) {
        match self {
            LentSecret::Key { key } => (Auth::Api { key, metadata: None }, None),
            LentSecret::Oauth { access, expires } => (
                Auth::Oauth {
                    refresh: String::new(),
                    access,
                    expires: expires.unwrap_or(Millis::MAX),
                    account_id: None,
                    enterprise_url: None,
                    metadata: None,
                },
                expires,
            ),
        }
    }
}

/// The lent secrets, by credential id.
#[derive(Default)]
pub struct Lent {
    by_id: HashMap<String, (String, Auth, Option<Millis>)>,
}

impl fmt::Debug for Lent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lent({} credentials, [redacted])", self.by_id.len())
    }
}

impl Lent {
    /// Keeps `secret` for credential `id` of `provider` (replacing an earlier one).
    pub fn lend(&mut self, provider: &str, id: &str, secret: LentSecret) {
        let (auth, until) = secret.into_auth();
        self.by_id.insert(id.to_string(), (provider.to_string(), auth, until));
    }

    /// What usage is read with for an account: the lent secret of an opencode 2 credential while
    /// it lasts, else the account's own credential as it is.
    pub fn usable<'a>(&'a self, provider: &str, auth: &'a Auth, now: Millis) -> &'a Auth {
        let Some(id) = auth.host_credential() else { return auth };
        match self.by_id.get(id) {
            Some((p, lent, until)) if p == provider && until.is_none_or(|u| u > now) => lent,
            _ => auth,
        }
    }

    /// Forgets the expired secrets and those of credentials not in `alive` (their accounts gone).
    pub fn forget(&mut self, alive: &HashSet<&str>, now: Millis) {
        self.by_id
            .retain(|id, (_, _, until)| alive.contains(id.as_str()) && until.is_none_or(|u| u > now));
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-FAKE-lent-0123";

    fn v2(id: &str) -> Auth {
        Auth::Opencode2 {
            credential_id: id.into(),
            kind: "key".into(),
        }
    }

    #[test]
    fn a_lent_secret_is_used_for_its_credential_and_provider_only_and_never_shown() {
        let mut lent = Lent::default();
        let secret: LentSecret = serde_json::from_value(serde_json::json!({"type": "key", "key": KEY})).unwrap();
        assert!(!format!("{secret:?}").contains(KEY));
        lent.lend("mock", "cred_a", secret);
        assert!(!format!("{lent:?}").contains(KEY));
        assert_eq!(lent.usable("mock", &v2("cred_a"), 0).request_token("mock"), KEY);
        assert_eq!(
            lent.usable("other", &v2("cred_a"), 0),
            &v2("cred_a"),
            "another provider's"
        );
        assert_eq!(lent.usable("mock", &v2("cred_b"), 0), &v2("cred_b"));
        let own = Auth::test_api("sk-FAKE-own");
        assert_eq!(
            lent.usable("mock", &own, 0),
            &own,
            "the balancer's own credential stands"
        );
    }

    #[test]
    fn an_oauth_secret_is_forgotten_when_it_expires_and_any_when_its_account_is_gone() {
        let mut lent = Lent::default();
        let oauth = serde_json::json!({"type": "oauth", "access": "at-FAKE", "expires": 100});
        lent.lend("openai", "cred_o", serde_json::from_value(oauth).unwrap());
        lent.lend(
            "mock",
            "cred_k",
            serde_json::from_value(serde_json::json!({"type": "key", "key": KEY})).unwrap(),
        );
        assert_eq!(
            lent.usable("openai", &v2("cred_o"), 99).request_token("openai"),
            "at-FAKE"
        );
        assert_eq!(lent.usable("openai", &v2("cred_o"), 100), &v2("cred_o"), "expired");
        lent.forget(&HashSet::from(["cred_o", "cred_k"]), 100);
        assert_eq!(lent.len(), 1, "the expired one is gone");
        lent.forget(&HashSet::new(), 100);
        assert!(lent.is_empty(), "its account is gone");
    }

    #[test]
    fn a_secret_of_another_shape_is_refused() {
        for bad in [
            serde_json::json!({"type": "refresh", "refresh": KEY}),
            serde_json::json!({"type": "key"}),
            serde_json::json!({"type": "key", "key": KEY, "extra": 1}),
        ] {
            assert!(serde_json::from_value::<LentSecret>(bad).is_err());
        }
    }
}
