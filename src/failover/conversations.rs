//! The retry balancer's memory of each session's continuity (docs/continuity.md): the owner of
//! its replayed state and its sticky edit, loaded from the store at start and merged with what
//! other processes write, plus this process's guess of the owner of a session it knows nothing
//! of (the account its first request here went to). Plain data: the decisions `strip_for`,
//! `owned_by` and `mend` take are here, the actor only hands changed records to the store.

use std::collections::HashMap;

use crate::continuity::Scope;
use crate::model::Millis;
use crate::store::{Continuity, CONVERSATION_TTL_MS, MAX_CONVERSATIONS};

/// An owner already known is confirmed in the store at most this often, so a session in use
/// is not forgotten after 30 days, yet a 2xx writes nothing most of the time.
const CONFIRM_MS: Millis = 24 * 3_600_000;

#[derive(Default)]
struct Entry {
    record: Continuity,
    /// Memory only: the account the session's first request in this process went to, when no
    /// owner was known then (sessions are sticky: the likeliest owner).
    guess: Option<(String, String)>,
    seen_at: Millis,
}

#[derive(Default)]
pub(super) struct Conversations {
    sessions: HashMap<String, Entry>,
    /// Records changed here, not yet handed to the store.
    changed: Vec<(String, Continuity)>,
}

impl Conversations {
    /// Takes in records read from the store (at start, or written by any process since).
    pub(super) fn merge_in(&mut self, records: Vec<(String, Continuity)>) {
        for (session, record) in records {
            self.sessions.entry(session).or_default().record.merge(&record);
        }
    }

    fn entry(&mut self, session: &str, now: Millis) -> &mut Entry {
        let e = self.sessions.entry(session.to_string()).or_default();
        e.seen_at = now;
        e
    }

    /// A request of `session` is opened on `provider`/`alias`: with no owner known, that account
    /// is taken as the owner for strip decisions until a 2xx says otherwise.
    pub(super) fn sent(&mut self, session: &str, provider: &str, alias: &str, now: Millis) {
        let e = self.entry(session, now);
        if e.record.owner.is_none() && e.guess.is_none() {
            e.guess = Some((provider.to_string(), alias.to_string()));
        }
    }

    /// The edit a request of `session` needs on `provider`/`alias` (`moved`: to another
    /// provider): none on the owner (known or guessed), `SameProvider` on another account,
    /// `ProviderMove` across providers, and never less than the session's edit so far, which
    /// grows to it.
    pub(super) fn strip_for(
        &mut self,
        session: &str,
        provider: &str,
        alias: &str,
        moved: bool,
        now: Millis,
    ) -> Option<Scope> {
        let e = self.entry(session, now);
        let here = match e.record.owner.as_ref().or(e.guess.as_ref()) {
            _ if moved => Some(Scope::ProviderMove),
            Some((p, _)) if p != provider => Some(Scope::ProviderMove),
            Some((_, a)) if a != alias => Some(Scope::SameProvider),
            _ => None,
        };
        self.widen(session, here, now)
    }

    /// A state-bound refusal was mended with `here`: the session is edited from now on. The
    /// scope the resend uses.
    pub(super) fn mended(&mut self, session: &str, here: Scope, now: Millis) -> Scope {
        self.entry(session, now);
        self.widen(session, Some(here), now).unwrap_or(here)
    }

    fn widen(&mut self, session: &str, here: Option<Scope>, now: Millis) -> Option<Scope> {
        let e = self.sessions.get_mut(session).expect("entry made by the caller");
        let wider = Scope::wider(e.record.edited, here);
        if wider != e.record.edited {
            e.record.edited = wider;
            e.record.updated_at = now;
            self.changed.push((session.to_string(), e.record.clone()));
        }
        wider
    }

    /// A 2xx of `session` on `provider`/`alias`: that account produced the state it replays next.
    pub(super) fn owned_by(&mut self, session: &str, provider: &str, alias: &str, now: Millis) {
        let e = self.entry(session, now);
        let same = e
            .record
            .owner
            .as_ref()
            .is_some_and(|(p, a)| p == provider && a == alias);
        if same && now - e.record.updated_at < CONFIRM_MS {
            return;
        }
        e.record.owner = Some((provider.to_string(), alias.to_string()));
        e.record.owner_at = now;
        e.record.updated_at = now;
        e.guess = None;
        let record = e.record.clone();
        self.changed.push((session.to_string(), record));
    }

    /// The records changed since the last call, for the store.
    pub(super) fn take_changed(&mut self) -> Vec<(String, Continuity)> {
        std::mem::take(&mut self.changed)
    }

    /// Forgets sessions not used nor changed for 30 days, then the oldest past 5,000.
    pub(super) fn sweep(&mut self, now: Millis) {
        let last = |e: &Entry| e.seen_at.max(e.record.updated_at);
        self.sessions.retain(|_, e| now - last(e) < CONVERSATION_TTL_MS);
        super::evict_oldest(&mut self.sessions, MAX_CONVERSATIONS, last);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_700_000_000_000;

    fn record(owner: Option<(&str, &str)>, edited: Option<Scope>) -> Continuity {
        Continuity {
            owner: owner.map(|(p, a)| (p.into(), a.into())),
            owner_at: T,
            edited,
            updated_at: T,
        }
    }

    #[test]
    fn a_loaded_owner_makes_a_request_on_another_account_strip_and_on_itself_go_as_it_is() {
        let mut c = Conversations::default();
        c.merge_in(vec![("s".into(), record(Some(("p", "a")), None))]);
        assert_eq!(c.strip_for("s", "p", "a", false, T), None);
        assert_eq!(c.strip_for("s", "p", "b", false, T), Some(Scope::SameProvider));
        let changed = c.take_changed();
        assert_eq!(changed.len(), 1, "the new edit goes to the store: {changed:?}");
        assert_eq!(changed[0].1.edited, Some(Scope::SameProvider));
        // Sticky: back on the owner it is still edited the same way.
        assert_eq!(c.strip_for("s", "p", "a", false, T), Some(Scope::SameProvider));
        assert!(c.take_changed().is_empty(), "nothing new to write");
    }

    #[test]
    fn a_loaded_edit_strips_every_request_even_on_the_owner() {
        let mut c = Conversations::default();
        c.merge_in(vec![("s".into(), record(Some(("p", "b")), Some(Scope::SameProvider)))]);
        assert_eq!(c.strip_for("s", "p", "b", false, T), Some(Scope::SameProvider));
        assert_eq!(c.strip_for("s", "q", "x", false, T), Some(Scope::ProviderMove));
    }

    #[test]
    fn with_no_owner_known_the_first_account_sent_to_is_the_owner_until_a_2xx_says_otherwise() {
        let mut c = Conversations::default();
        c.sent("s", "p", "a", T);
        c.sent("s", "p", "b", T);
        assert_eq!(c.strip_for("s", "p", "a", false, T), None);
        assert_eq!(c.strip_for("s", "p", "b", false, T), Some(Scope::SameProvider));
        assert!(
            c.take_changed().iter().all(|(_, r)| r.owner.is_none()),
            "a guess is never stored"
        );
        let mut c = Conversations::default();
        c.sent("t", "p", "a", T);
        c.owned_by("t", "p", "b", T);
        assert_eq!(c.strip_for("t", "p", "b", false, T), None, "the 2xx's account owns it");
        assert_eq!(c.strip_for("t", "p", "a", false, T), Some(Scope::SameProvider));
    }

    #[test]
    fn a_2xx_on_the_known_owner_writes_nothing_until_a_day_has_passed() {
        let mut c = Conversations::default();
        c.owned_by("s", "p", "a", T);
        assert_eq!(c.take_changed().len(), 1);
        c.owned_by("s", "p", "a", T + 1_000);
        assert!(c.take_changed().is_empty());
        c.owned_by("s", "p", "a", T + CONFIRM_MS);
        assert_eq!(c.take_changed()[0].1.updated_at, T + CONFIRM_MS);
    }

    #[test]
    fn a_mend_and_a_provider_move_edit_the_session_from_then_on() {
        let mut c = Conversations::default();
        assert_eq!(c.mended("s", Scope::SameProvider, T), Scope::SameProvider);
        assert_eq!(c.strip_for("s", "p", "a", false, T), Some(Scope::SameProvider));
        assert_eq!(c.strip_for("m", "q", "x", true, T), Some(Scope::ProviderMove));
        assert_eq!(
            c.mended("m", Scope::SameProvider, T),
            Scope::ProviderMove,
            "never narrower"
        );
    }

    #[test]
    fn sessions_idle_for_thirty_days_are_forgotten_and_at_most_five_thousand_kept() {
        let mut c = Conversations::default();
        c.owned_by("old", "p", "a", T);
        for i in 0..MAX_CONVERSATIONS as i64 + 10 {
            c.sent(&format!("s{i}"), "p", "a", T + CONVERSATION_TTL_MS + i);
        }
        c.sweep(T + CONVERSATION_TTL_MS + 20_000);
        assert!(c.len() <= MAX_CONVERSATIONS);
        assert!(!c.sessions.contains_key("old") && !c.sessions.contains_key("s0"));
        assert!(c.sessions.contains_key(&format!("s{}", MAX_CONVERSATIONS + 9)));
    }
}
