//! Tests of the continuity records: the merge, the write/read round trip between two
//! connections, reading after a `seq`, and the bounds.

use super::*;
use crate::store::Store;

const T: Millis = 1_700_000_000_000;

fn owned(provider: &str, alias: &str, at: Millis, edited: Option<Scope>) -> Continuity {
    Continuity {
        owner: Some((provider.into(), alias.into())),
        owner_at: at,
        edited,
        updated_at: at,
    }
}

#[test]
fn the_newer_owner_and_the_wider_edit_win_whatever_the_order() {
    let a = owned("p", "a", T, Some(Scope::ProviderMove));
    let b = owned("p", "b", T + 1, Some(Scope::SameProvider));
    let (mut ab, mut ba) = (a.clone(), b.clone());
    assert!(ab.merge(&b));
    ba.merge(&a);
    assert_eq!(ab, ba);
    assert_eq!(ab.owner, Some(("p".into(), "b".into())));
    assert_eq!(ab.edited, Some(Scope::ProviderMove), "an edit never narrows");
    assert!(!ab.merge(&b), "merging again changes nothing");
    // An edit alone (no owner known) keeps the owner.
    let edit_only = Continuity {
        edited: Some(Scope::SameProvider),
        updated_at: T + 5,
        ..Default::default()
    };
    let mut c = a.clone();
    c.merge(&edit_only);
    assert_eq!((c.owner, c.updated_at), (a.owner, T + 5));
}

#[test]
fn records_written_by_one_connection_are_read_merged_by_another_after_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut one = Store::open(&path).unwrap();
    let two = Store::open(&path).unwrap();
    let start = two.load_conversations(T).unwrap();
    assert!(start.records.is_empty());
    one.write_conversations(&[("s1".into(), owned("p", "a", T, None))], T)
        .unwrap();
    let first = two.conversations_since(start.seq).unwrap();
    assert_eq!(first.records, [("s1".to_string(), owned("p", "a", T, None))]);
    // An older owner does not replace a newer one; the edit is kept.
    one.write_conversations(&[("s1".into(), owned("p", "b", T + 10, None))], T)
        .unwrap();
    one.write_conversations(&[("s1".into(), owned("p", "a", T + 1, Some(Scope::SameProvider)))], T)
        .unwrap();
    let later = two.conversations_since(first.seq).unwrap();
    assert_eq!(
        later.records,
        [("s1".to_string(), owned("p", "b", T + 10, Some(Scope::SameProvider)))]
    );
    assert!(two.conversations_since(later.seq).unwrap().records.is_empty());
}

#[test]
fn writes_keep_the_newest_sessions_of_the_last_thirty_days() {
    let mut s = Store::open_in_memory().unwrap();
    let now = T + CONVERSATION_TTL_MS + 100;
    s.write_conversations(&[("old".into(), owned("p", "a", T, None))], T)
        .unwrap();
    let many: Vec<(String, Continuity)> = (0..MAX_CONVERSATIONS as i64 + 2)
        .map(|i| (format!("s{i}"), owned("p", "a", now - 50 + i, None)))
        .collect();
    s.write_conversations(&many, now).unwrap();
    // The next write prunes what the last one left past the bounds (it never prunes its own rows).
    let last = format!("s{}", MAX_CONVERSATIONS + 1);
    s.write_conversations(&[(last.clone(), owned("p", "b", now + 100, None))], now)
        .unwrap();
    let rows: i64 = s
        .conn
        .query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, MAX_CONVERSATIONS as i64);
    let read = s.load_conversations(now).unwrap();
    assert_eq!(read.records.len(), MAX_CONVERSATIONS);
    let names: Vec<&str> = read.records.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"old") && !names.contains(&"s0") && !names.contains(&"s1"));
    assert_eq!(names[0], last, "newest first");
}

#[test]
fn an_edit_this_binary_does_not_know_reads_as_the_widest_and_half_an_owner_as_none() {
    let s = Store::open_in_memory().unwrap();
    s.conn
        .execute_batch(
            "INSERT INTO conversations (session_id, owner_provider, owner_alias, owner_at, edited, updated_at, seq)
             VALUES ('s', 'p', NULL, 5, 'everything', 1700000000000, 1)",
        )
        .unwrap();
    let read = s.load_conversations(T).unwrap();
    assert_eq!(read.records[0].1.owner, None);
    assert_eq!(read.records[0].1.edited, Some(Scope::ProviderMove));
    assert_eq!(read.seq, 1);
}
