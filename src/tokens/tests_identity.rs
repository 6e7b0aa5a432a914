//! Tests that a refused or failed refresh never moves an account to another person's login: a
//! login found in opencode's auth.json is taken only with proof (the same identity, or the same
//! Claude profile subject read for it from a loopback profile server); otherwise it stays pending
//! and the account needs a login, said by an event and a toast.

use std::collections::BTreeMap;
use std::time::Duration;

use super::tests::{kinds, process_with, settle, test_config, HOUR, NOW};
use super::*;
use crate::accounts::FlushNow;
use crate::model::Auth;
use crate::store::{CaptureHint, Store};
use crate::tokens::providers::{BoxFuture, RefreshError, RefreshRequest, Refreshed};
use crate::usage::fake_server::{claude_profile_reply, FakeReply, FakeUsageServer};
use crate::usage::providers::anthropic_profile::PROFILE_PATH;

/// A token endpoint that refuses or fails every refresh, counting them.
struct Refusing(RefreshError, std::sync::atomic::AtomicUsize);

impl TokenClient for Refusing {
    fn refreshable(&self, _: &str, auth: &Auth) -> bool {
        matches!(auth, Auth::Oauth { .. })
    }
    fn refresh(&self, _: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let e = self.0.clone();
        Box::pin(async move { Err(e) })
    }
}

/// An opaque Claude login, as opencode's Claude plugin writes it.
fn claude(name: &str, expires: Millis) -> Auth {
    Auth::Oauth {
        refresh: format!("sk-ant-ort01-FAKE-{name}"),
        access: format!("sk-ant-oat01-FAKE-{name}"),
        expires,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

fn hint(subject: Option<&str>) -> BTreeMap<String, CaptureHint> {
    BTreeMap::from([(
        "anthropic".to_string(),
        CaptureHint {
            subject: subject.map(str::to_string),
            email: Some("me@example.com".into()),
            previous: None,
        },
    )])
}

/// A store where my login (`me-example.com`, with `my_subject` stored when given) is saved and
/// `theirs` waits as a pending connection; auth.json holds `theirs`.
fn scene(dir: &tempfile::TempDir, my_subject: Option<&str>, theirs: &Auth) -> (std::path::PathBuf, std::path::PathBuf) {
    let path = dir.path().join("balancer.sqlite");
    let mut s = Store::open(&path).unwrap();
    let mine = [("anthropic".to_string(), claude("me", NOW + 30_000))];
    s.capture_all(&mine, &hint(my_subject), true, "auth.json", NOW - HOUR)
        .unwrap();
    let pending = [("anthropic".to_string(), theirs.clone())];
    s.capture_all(&pending, &BTreeMap::new(), false, "auth.json", NOW - 1)
        .unwrap();
    assert_eq!(s.list_pending().unwrap().len(), 1);
    let auth_json = dir.path().join("auth.json");
    std::fs::write(&auth_json, serde_json::json!({ "anthropic": theirs }).to_string()).unwrap();
    (path, auth_json)
}

fn profiles(server: &FakeUsageServer) -> Option<Arc<ProfileReader>> {
    let endpoints = crate::usage::Endpoints::all_at(&server.url(), Duration::from_secs(2));
    Some(Arc::new(ProfileReader::at(endpoints)))
}

/// Runs one refresh of my account with `error` from the token endpoint; answers what the store
/// holds for it afterwards, whether it needs a login, and the notices seen.
async fn refresh_refused(
    dir: &tempfile::TempDir,
    my_subject: Option<&str>,
    theirs: &Auth,
    server: &FakeUsageServer,
    error: RefreshError,
) -> (Auth, bool, Vec<String>, usize) {
    let (path, auth_json) = scene(dir, my_subject, theirs);
    let client = Arc::new(Refusing(error, Default::default()));
    let config = Config {
        auth_path: Some(auth_json),
        profiles: profiles(server),
        ..test_config()
    };
    let mut p = process_with(&path, client.clone(), config);
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    p.registry.send(FlushNow).await.unwrap();
    let snap = Store::open(&path).unwrap().load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    let view = super::tests::account(&p).await;
    let pending = Store::open(&path).unwrap().list_pending().unwrap().len();
    assert_eq!(client.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    (
        snap.accounts[0].auth.clone(),
        view.login_required,
        kinds(&mut p.notices),
        pending,
    )
}

#[actix::test]
async fn a_refused_claude_login_never_takes_another_persons_pending_login() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-them", "o-FAKE-them", "them@example.com"),
    );
    let theirs = claude("them", NOW + 8 * HOUR);
    let dir = tempfile::tempdir().unwrap();
    let refused = RefreshError::LoginRequired("invalid_grant".into());
    let (auth, login_required, seen, pending) =
        refresh_refused(&dir, Some("claude:u-FAKE-me/o-FAKE-me"), &theirs, &server, refused).await;
    assert_eq!(auth, claude("me", NOW + 30_000), "my account keeps my credential");
    assert!(login_required, "and needs a new login");
    assert!(seen.contains(&"login_required".to_string()), "{seen:?}");
    assert!(seen.contains(&"toast".to_string()), "{seen:?}");
    assert_eq!(pending, 1, "their login still waits as pending");
    assert_eq!(server.count(PROFILE_PATH), 1, "their profile was asked who they are");
}

#[actix::test]
async fn without_proof_of_the_person_a_login_in_auth_json_is_never_taken() {
    let theirs = claude("them", NOW + 8 * HOUR);
    // The profile cannot be read.
    let server = FakeUsageServer::start().unwrap();
    server.route(PROFILE_PATH, FakeReply::status(503, "{}"));
    let dir = tempfile::tempdir().unwrap();
    let refused = RefreshError::LoginRequired("invalid_grant".into());
    let (auth, login_required, _, pending) =
        refresh_refused(&dir, Some("claude:u-FAKE-me/o-FAKE-me"), &theirs, &server, refused).await;
    assert_eq!((auth, login_required, pending), (claude("me", NOW + 30_000), true, 1));
    // My account has no subject to compare with (saved while the profile was unreadable): nothing
    // proves who the login in auth.json is, not even after a timeout.
    let dir = tempfile::tempdir().unwrap();
    let timeout = RefreshError::Transient("no answer within 20 s".into());
    let (auth, login_required, seen, pending) = refresh_refused(&dir, None, &theirs, &server, timeout).await;
    assert_eq!((auth, login_required, pending), (claude("me", NOW + 30_000), false, 1));
    assert!(seen.contains(&"token_refresh_failed".to_string()), "{seen:?}");
}

#[actix::test]
async fn a_login_in_auth_json_proven_mine_by_its_profile_is_taken_and_no_longer_pending() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-me", "o-FAKE-me", "me@example.com"),
    );
    // opencode refreshed my login itself; the rotated one is in auth.json (pending, as the
    // watcher had no profile for it then).
    let rotated = claude("me-rotated", NOW + 8 * HOUR);
    let dir = tempfile::tempdir().unwrap();
    let refused = RefreshError::LoginRequired("refresh_token_reused".into());
    let (auth, login_required, seen, pending) =
        refresh_refused(&dir, Some("claude:u-FAKE-me/o-FAKE-me"), &rotated, &server, refused).await;
    assert_eq!(auth, rotated);
    assert!(!login_required);
    assert!(!seen.contains(&"login_required".to_string()), "{seen:?}");
    assert_eq!(pending, 0, "the pending login is resolved: it is my account's now");
}
