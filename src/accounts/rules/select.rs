//! Choosing an account of one provider by strategy, soft limit and health.

use std::collections::BTreeMap;

use crate::model::{Account, Millis, Strategy};

/// What the choice depends on besides the accounts themselves.
pub struct Choice<'a> {
    pub strategy: Strategy,
    pub soft_limit_percent: u32,
    pub active: Option<&'a str>,
    pub now: Millis,
    /// Round-robin position of this provider; advanced on each round-robin pick.
    pub cursor: &'a mut usize,
}

/// Picks a healthy account not in `exclude`. Accounts at or above the soft limit are picked only
/// when no healthy account of the provider is below it; unknown usage counts as below.
pub fn pick<'a>(
    accounts: &'a BTreeMap<String, Account>,
    exclude: &[String],
    choice: Choice<'_>,
) -> Option<&'a Account> {
    let usable = |a: &Account| a.is_healthy(choice.now) && !exclude.contains(&a.alias);
    let below = |a: &Account| {
        a.usage
            .as_ref()
            .and_then(|u| u.used_percent)
            .is_none_or(|p| p < choice.soft_limit_percent as f64)
    };

    // Fast path: the sticky account, without scanning the provider.
    if choice.strategy == Strategy::Sticky {
        if let Some(a) = choice.active.and_then(|alias| accounts.get(alias)) {
            if usable(a) && below(a) {
                return Some(a);
            }
        }
    }
    if choice.strategy == Strategy::Sticky {
        // The first usable account by alias, preferring those below the soft limit: no full scan
        // unless every account is above it.
        return accounts
            .values()
            .find(|a| usable(a) && below(a))
            .or_else(|| {
                choice
                    .active
                    .and_then(|alias| accounts.get(alias))
                    .filter(|a| usable(a))
            })
            .or_else(|| accounts.values().find(|a| usable(a)));
    }
    let mut pool: Vec<&Account> = accounts.values().filter(|a| usable(a) && below(a)).collect();
    if pool.is_empty() {
        pool = accounts.values().filter(|a| usable(a)).collect();
    }
    if pool.is_empty() {
        return None;
    }
    let chosen = match choice.strategy {
        Strategy::Sticky => choice
            .active
            .and_then(|alias| pool.iter().find(|a| a.alias == alias))
            .unwrap_or(&pool[0]),
        Strategy::RoundRobin => {
            let i = *choice.cursor % pool.len();
            *choice.cursor = choice.cursor.wrapping_add(1);
            &pool[i]
        }
        Strategy::Lru => pool
            .iter()
            .min_by_key(|a| a.last_used_at.unwrap_or(Millis::MIN))
            .expect("pool is not empty"),
        Strategy::Quota => pool
            .iter()
            .min_by(|a, b| {
                quota_rank(a)
                    .partial_cmp(&quota_rank(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .expect("pool is not empty"),
    };
    Some(chosen)
}

/// Lower is better: known usage by percent used, unknown after every known value.
fn quota_rank(a: &Account) -> (bool, f64) {
    match a.usage.as_ref().and_then(|u| u.used_percent) {
        Some(p) => (false, p),
        None => (true, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UsageSnapshot;

    const NOW: Millis = 1_000_000;

    fn acc(alias: &str, used: Option<f64>) -> Account {
        let mut a = Account::for_test("p", alias);
        a.usage = used.map(|p| {
            Box::new(UsageSnapshot {
                provider_id: "p".into(),
                alias: alias.into(),
                fetched_at: 0,
                confidence: crate::model::Confidence::Exact,
                plan_name: None,
                used_percent: Some(p),
                reset_at: None,
                used_units: None,
                remaining_units: None,
                windows: None,
                message: String::new(),
                error: None,
            })
        });
        a
    }

    fn map(list: Vec<Account>) -> BTreeMap<String, Account> {
        list.into_iter().map(|a| (a.alias.clone(), a)).collect()
    }

    fn choose(
        m: &BTreeMap<String, Account>,
        strategy: Strategy,
        active: Option<&str>,
        cursor: &mut usize,
    ) -> Option<String> {
        pick(
            m,
            &[],
            Choice {
                strategy,
                soft_limit_percent: 90,
                active,
                now: NOW,
                cursor,
            },
        )
        .map(|a| a.alias.clone())
    }

    #[test]
    fn sticky_keeps_the_active_account_until_it_cools_down() {
        let mut m = map(vec![acc("a", None), acc("b", None)]);
        let mut c = 0;
        assert_eq!(choose(&m, Strategy::Sticky, Some("b"), &mut c).as_deref(), Some("b"));
        m.get_mut("b").unwrap().cooldown_until = Some(NOW + 1);
        assert_eq!(choose(&m, Strategy::Sticky, Some("b"), &mut c).as_deref(), Some("a"));
        m.get_mut("b").unwrap().cooldown_until = Some(NOW);
        assert_eq!(
            choose(&m, Strategy::Sticky, Some("b"), &mut c).as_deref(),
            Some("b"),
            "a passed cooldown ends by itself"
        );
    }

    #[test]
    fn round_robin_rotates_over_healthy_accounts() {
        let mut m = map(vec![acc("a", None), acc("b", None), acc("c", None)]);
        m.get_mut("b").unwrap().disabled = true;
        let mut c = 0;
        let picks: Vec<_> = (0..4)
            .map(|_| choose(&m, Strategy::RoundRobin, None, &mut c).unwrap())
            .collect();
        assert_eq!(picks, ["a", "c", "a", "c"]);
    }

    #[test]
    fn lru_picks_the_least_recently_used() {
        let mut m = map(vec![acc("a", None), acc("b", None)]);
        m.get_mut("a").unwrap().last_used_at = Some(5);
        m.get_mut("b").unwrap().last_used_at = Some(3);
        assert_eq!(choose(&m, Strategy::Lru, Some("a"), &mut 0).as_deref(), Some("b"));
    }

    #[test]
    fn quota_prefers_most_headroom_and_ranks_unknown_last() {
        let m = map(vec![acc("a", None), acc("b", Some(70.0)), acc("c", Some(20.0))]);
        assert_eq!(choose(&m, Strategy::Quota, None, &mut 0).as_deref(), Some("c"));
        let m = map(vec![acc("a", None), acc("b", Some(70.0))]);
        assert_eq!(choose(&m, Strategy::Quota, None, &mut 0).as_deref(), Some("b"));
    }

    #[test]
    fn soft_limit_moves_off_an_account_unless_all_are_above() {
        let m = map(vec![acc("a", Some(95.0)), acc("b", Some(40.0))]);
        assert_eq!(choose(&m, Strategy::Sticky, Some("a"), &mut 0).as_deref(), Some("b"));
        let m = map(vec![acc("a", Some(95.0)), acc("b", Some(99.0))]);
        assert_eq!(choose(&m, Strategy::Sticky, Some("a"), &mut 0).as_deref(), Some("a"));
    }

    #[test]
    fn excluded_and_unhealthy_accounts_are_never_picked() {
        let mut m = map(vec![acc("a", None), acc("b", None)]);
        m.get_mut("b").unwrap().disabled = true;
        assert_eq!(
            pick(
                &m,
                &["a".into()],
                Choice {
                    strategy: Strategy::Sticky,
                    soft_limit_percent: 90,
                    active: Some("a"),
                    now: NOW,
                    cursor: &mut 0
                }
            ),
            None
        );
    }
}
