//! Google Gemini bodies: another account's state is the `thoughtSignature` on replayed parts. It
//! is replaced by the sentinel Google documents for a part without a valid signature
//! (`skip_thought_signature_validator`, which the AI SDK itself uses), so the part — a function
//! call, a thought, text — stays where it was.

use super::splice::{self, Member, Splice};

/// Google's documented value that skips the validation of a thought signature.
pub const SENTINEL: &str = "skip_thought_signature_validator";
const SIGNATURE_KEYS: &[&str] = &["thoughtSignature", "thought_signature"];

pub(super) fn strip<'a>(s: &mut Splice<'a>, top: &[Member<'a>]) {
    let Some(contents) = splice::get(top, "contents").and_then(|c| s.items(c.value)) else {
        return;
    };
    for content in contents {
        let Some(parts) = s
            .members(content.value)
            .and_then(|m| splice::get(&m, "parts").copied())
            .and_then(|p| s.items(p.value))
        else {
            continue;
        };
        for part in parts {
            for m in s.members(part.value).unwrap_or_default() {
                let signed = SIGNATURE_KEYS.contains(&m.key.as_ref())
                    && splice::string(m.child.value).is_some_and(|v| v != SENTINEL);
                if signed {
                    s.replace(m.child.value, format!("\"{SENTINEL}\""));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{edited, fixture, json};
    use super::super::{strip_foreign_state, Api, Edit, Scope};
    use super::SENTINEL;

    #[test]
    fn foreign_signatures_become_the_sentinel_and_every_part_stays() {
        let body = fixture("gemini-3.json");
        let before = json(&body);
        let after = json(&edited(Api::Gemini, &body, Scope::SameProvider));
        let parts = |v: &serde_json::Value| {
            v["contents"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["parts"].as_array().unwrap().clone())
                .collect::<Vec<_>>()
        };
        let (b, a) = (parts(&before), parts(&after));
        assert_eq!(a.len(), b.len());
        for (pb, pa) in b.iter().zip(&a) {
            let mut expected = pb.clone();
            if let Some(sig) = expected.get_mut("thoughtSignature") {
                *sig = SENTINEL.into();
            }
            assert_eq!(pa, &expected);
        }
        assert!(!String::from_utf8_lossy(&serde_json::to_vec(&after).unwrap()).contains("fake-thought-sig"));
        assert_eq!(after["generationConfig"], before["generationConfig"]);
    }

    #[test]
    fn a_body_with_only_sentinels_or_no_signatures_is_unchanged() {
        let body = format!(
            r#"{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"read","args":{{}}}},"thoughtSignature":"{SENTINEL}"}}]}},{{"role":"user","parts":[{{"text":"hi"}}]}}]}}"#
        );
        for scope in [Scope::SameProvider, Scope::ProviderMove] {
            assert_eq!(
                strip_foreign_state(Api::Gemini, body.as_bytes(), scope),
                Edit::Unchanged
            );
        }
    }
}
