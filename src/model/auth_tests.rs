//! `Auth` tests: opencode's shapes, user input, identities, and that no secret is shown.

use base64::Engine;

use super::*;

#[test]
fn opencodes_copy_of_a_login_drops_only_the_balancers_metadata() {
    let login = Auth::Oauth {
        refresh: "r".into(),
        access: "a".into(),
        expires: 5,
        account_id: Some("acc".into()),
        enterprise_url: Some("https://ghe.example".into()),
        metadata: Some([("k".to_string(), "v".to_string())].into()),
    };
    let Auth::Oauth { metadata, .. } = login.as_opencode_keeps() else {
        panic!("still a login")
    };
    assert_eq!(metadata, None);
    let kept = Auth::Oauth {
        refresh: "r".into(),
        access: "a".into(),
        expires: 5,
        account_id: Some("acc".into()),
        enterprise_url: Some("https://ghe.example".into()),
        metadata: None,
    };
    assert_eq!(login.as_opencode_keeps(), kept);
    let key = Auth::Api {
        key: "k".into(),
        metadata: Some([("m".to_string(), "n".to_string())].into()),
    };
    assert_eq!(key.as_opencode_keeps(), key, "other kinds pass as they are");
}

#[test]
fn parses_every_opencode_shape_and_round_trips() {
    for text in [
        r#"{"type":"api","key":"sk-fake"}"#,
        r#"{"type":"api","key":"sk-fake","metadata":{"githubOrg":"acme"}}"#,
        r#"{"type":"oauth","refresh":"r-fake","access":"a-fake","expires":1700000000000,"accountId":"acc-1"}"#,
        r#"{"type":"oauth","refresh":"r-fake","access":"a-fake","expires":1,"enterpriseUrl":"https://ghe.example"}"#,
        r#"{"type":"wellknown","key":"k-fake","token":"t-fake"}"#,
    ] {
        let auth: Auth = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&auth).unwrap(), text);
    }
}

#[test]
fn bare_key_becomes_api_auth_and_bad_input_is_refused_without_echo() {
    assert_eq!(
        Auth::from_user_input(" sk-fake-123\n").unwrap(),
        Auth::Api {
            key: "sk-fake-123".into(),
            metadata: None
        }
    );
    let err = Auth::from_user_input(r#"{"type":"bogus","key":"sk-secret-value"}"#).unwrap_err();
    assert!(!err.contains("sk-secret-value"), "{err}");
    assert!(Auth::from_user_input("").is_err());
    assert!(Auth::from_user_input("two words").is_err());
    // JSON that is not an auth object is refused, never kept as the text of a key.
    for json in [
        r#"["sk-fake-1"]"#,
        r#""sk-fake-1""#,
        r#"{"type":"api","key":["sk-fake-1"]}"#,
    ] {
        assert!(Auth::from_user_input(json).is_err(), "{json}");
    }
    assert_eq!(
        Auth::from_user_input(r#"{"type":"api","key":5}"#).unwrap_err(),
        "the credential on standard input, field key: expected a string, found a number"
    );
    // A field this version does not know is dropped, not refused.
    let extra = r#"{"type":"wellknown","key":"k","token":"t","addedByAPlugin":{"x":1}}"#;
    assert_eq!(
        serde_json::to_string(&Auth::from_user_input(extra).unwrap()).unwrap(),
        r#"{"type":"wellknown","key":"k","token":"t"}"#
    );
}

#[test]
fn identity_follows_the_predecessor_rules() {
    let claims = serde_json::json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-42"}});
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let jwt = format!("h.{payload}.s");
    let a = Auth::Oauth {
        refresh: "r1".into(),
        access: jwt,
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    assert_eq!(a.identity(), "oauth-account:acct-42");
    let b = Auth::Oauth {
        refresh: "r1".into(),
        access: "opaque".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    // sha256("r1\0")
    assert_eq!(
        b.identity(),
        "oauth-refresh:sha256:feb74c12119e51b47c961906297eeb2602c8861beb9b08e8249a91b7f3080194"
    );
    let c = Auth::Oauth {
        refresh: "r2".into(),
        access: "x".into(),
        expires: 0,
        account_id: Some("id-9".into()),
        enterprise_url: None,
        metadata: None,
    };
    assert_eq!(c.identity(), "oauth-account:id-9");
    // sha256("sk-fake\0"): the key decides, not its metadata.
    let key = |k: &str, org: Option<&str>| Auth::Api {
        key: k.into(),
        metadata: org.map(|o| BTreeMap::from([("githubOrg".to_string(), o.to_string())])),
    };
    assert_eq!(
        key("sk-fake", None).identity(),
        "api:sha256:56ff19a0fc0e722ebeb65d5a2e2a30f2f31740445e91b6309c50f24f14c94abc"
    );
    assert_eq!(key("sk-fake", Some("acme")).identity(), key("sk-fake", None).identity());
    assert_ne!(key("sk-fake2", None).identity(), key("sk-fake", None).identity());
    // sha256("k\0t\0"); the parts are kept apart, so key+token cannot be re-split alike.
    let wk = |k: &str, t: &str| Auth::Wellknown {
        key: k.into(),
        token: t.into(),
    };
    assert_eq!(
        wk("k", "t").identity(),
        "wellknown:sha256:3f3533f63d5e5f933fef1a0ca7433c846f626ae82d9e7d4ca5e018bcb840fa25"
    );
    assert_ne!(wk("ab", "c").identity(), wk("a", "bc").identity());
}

#[test]
fn an_identity_never_holds_a_secret_part() {
    let auths = [
        Auth::Api {
            key: "sk-identity-secret".into(),
            metadata: None,
        },
        Auth::Wellknown {
            key: "wk-identity-key".into(),
            token: "wt-identity-token".into(),
        },
        Auth::Oauth {
            refresh: "rt-identity-refresh".into(),
            access: "at-identity-opaque".into(),
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        },
    ];
    for auth in auths {
        let identity = auth.identity();
        for secret in auth.secrets() {
            assert!(!identity.contains(secret), "{identity}");
        }
    }
}

#[test]
fn debug_never_shows_a_secret() {
    let a = Auth::Api {
        key: "sk-very-secret".into(),
        metadata: None,
    };
    assert!(!format!("{a:?}").contains("sk-very-secret"));
}
