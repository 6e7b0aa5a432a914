//! Property test: distinctive fake secrets fed through every malformed credential shape (wrong
//! types at each field, unknown and missing types, nested metadata, wrong top level, broken JSON,
//! bad provider ids) into every parser of credentials never come back in an error.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::api::SaveParams;
use crate::logins::{parse_auth_file, parse_logins};
use crate::model::Auth;
use crate::rpc::dispatch::parse;

/// A hit is any piece of the secret this long.
const PIECE: usize = 12;

/// A fake secret no error text could hold by chance.
fn secret() -> impl Strategy<Value = String> {
    "[a-z0-9]{14,40}".prop_map(|s| format!("sk-FAKE-PROPSECRET-{s}"))
}

/// A value of any JSON kind carrying the secret (as a string, in an array, as a key and value).
fn holding(secret: &str, kind: u8) -> Value {
    match kind % 6 {
        0 => json!(secret),
        1 => json!([secret, 1]),
        2 => Value::Object(Map::from_iter([(secret.to_string(), json!(secret))])),
        3 => json!({"nested": {"deeper": [secret]}}),
        4 => json!(secret.len()),
        _ => Value::Null,
    }
}

/// A credential of each shape opencode writes, every string of it the secret.
fn well_formed(secret: &str, shape: u8) -> Value {
    match shape % 3 {
        0 => json!({"type": "api", "key": secret, "metadata": {"githubOrg": secret}}),
        1 => json!({"type": "oauth", "refresh": secret, "access": secret, "expires": 1,
            "accountId": secret, "enterpriseUrl": secret, "metadata": {"k": secret}}),
        _ => json!({"type": "wellknown", "key": secret, "token": secret}),
    }
}

/// One malformation of a well-formed credential, all of them around the secret.
fn malformed(secret: &str, shape: u8, how: u8, field: usize, kind: u8) -> Value {
    let mut v = well_formed(secret, shape);
    let fields: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    let name = fields[field % fields.len()].clone();
    match how % 7 {
        // A value of another kind at one field (a string where a number goes, too).
        0 => v[&name] = holding(secret, kind),
        1 => {
            v.as_object_mut().unwrap().remove(&name);
        }
        2 => v["type"] = json!(secret),
        3 => v["metadata"] = json!({"k": holding(secret, kind.max(1)), secret: [secret]}),
        4 => v["expires"] = json!(secret),
        // The whole credential of the wrong kind.
        5 => v = holding(secret, kind),
        _ => v = json!([v]),
    }
    v
}

/// Every error text the parsers give for `value` as a credential and in files around it: under a
/// provider id, under keys that are not provider ids (made of the secret: too long, or with a
/// space), and as the whole file. (A provider id opencode would write is a name and is shown, so
/// a secret is never one here.)
fn errors(secret: &str, value: &Value, cut: usize) -> Vec<String> {
    let mut out = vec![];
    let entry = json!({"openai": value, "groq": {"type": "api", "key": secret}});
    let bad_ids = [format!("{secret} x"), secret.repeat(3)];
    let bad_ids = Value::Object(bad_ids.into_iter().map(|id| (id, value.clone())).collect());
    let mut texts = vec![entry.to_string(), bad_ids.to_string()];
    if !value.is_object() {
        texts.push(value.to_string());
    }
    // Broken JSON: each text cut short somewhere inside.
    texts.extend(texts.clone().iter().map(|t| t[..cut % t.len()].to_string()));
    for text in &texts {
        for parsed in [parse_auth_file(text), parse_logins(text, "OPENCODE_AUTH_CONTENT")] {
            match parsed {
                Ok(file) => out.extend(file.skipped.iter().map(ToString::to_string)),
                Err(e) => out.push(e.to_string()),
            }
        }
        out.extend(Auth::from_user_input(text).err());
        out.extend(serde_json::from_str::<Auth>(text).err().map(|e| e.to_string()));
    }
    let params = json!({"providerID": "openai", "alias": "a", "auth": value});
    out.extend(parse::<SaveParams>(params).err().map(|e| e.message));
    out
}

fn leaked(secret: &str, text: &str) -> bool {
    secret
        .as_bytes()
        .windows(PIECE)
        .any(|piece| text.as_bytes().windows(PIECE).any(|w| w == piece))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_piece_of_a_secret_comes_back_in_any_credential_error(
        secret in secret(),
        shape in any::<u8>(),
        how in any::<u8>(),
        field in any::<usize>(),
        kind in any::<u8>(),
        cut in any::<usize>(),
    ) {
        let value = malformed(&secret, shape, how, field, kind);
        let errors = errors(&secret, &value, cut);
        prop_assert!(!errors.is_empty());
        for e in errors {
            prop_assert!(!e.is_empty());
            prop_assert!(!leaked(&secret, &e), "{}", e);
        }
    }
}

#[test]
fn the_scan_finds_a_piece_and_every_shape_is_refused() {
    let s = "sk-FAKE-PROPSECRET-0123456789abcdef";
    assert!(leaked(s, &format!("invalid type: string \"{}\"", &s[3..15])));
    for shape in 0..3 {
        assert!(Auth::from_user_input(&well_formed(s, shape).to_string()).is_ok());
        // A wrong type, an unknown type, a wrong top level fail; so does a string `expires`.
        let hows: &[u8] = if shape == 1 { &[0, 2, 4, 5, 6] } else { &[0, 2, 5, 6] };
        for &how in hows {
            let v = malformed(s, shape, how, 0, 1);
            assert!(Auth::from_user_input(&v.to_string()).is_err(), "{v}");
        }
    }
}
