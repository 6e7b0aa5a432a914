//! Which refusals say "this conversation state belongs to another account": a 400 or 401 whose
//! error names encrypted content that cannot be verified, a thinking signature, a conversation
//! the state is bound to, or an item that is not this connection's. Such a refusal is mended by
//! one resend on the same account without the state — no cooldown, no auth failure.

use serde::Deserialize;

/// Which kind of foreign state the provider refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateBoundKind {
    /// OpenAI / ChatGPT / Copilot: `invalid_encrypted_content`, "The encrypted content … could not
    /// be verified", "Encrypted content could not be decrypted or parsed".
    EncryptedContent,
    /// Anthropic Messages: "Invalid `signature` in `thinking` block".
    ThinkingSignature,
    /// Anthropic Messages (mid-2026): a thinking block "bound to a different conversation".
    OtherConversation,
    /// GitHub Copilot 401: "input item ID does not belong to this connection".
    ItemNotOnConnection,
    /// OpenAI with `store: true` [inferred]: `previous_response_not_found`, "Previous response
    /// with id … not found", "Item with id … not found".
    StoredItemMissing,
}

impl StateBoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StateBoundKind::EncryptedContent => "encrypted-content",
            StateBoundKind::ThinkingSignature => "thinking-signature",
            StateBoundKind::OtherConversation => "other-conversation",
            StateBoundKind::ItemNotOnConnection => "item-not-on-connection",
            StateBoundKind::StoredItemMissing => "stored-item-missing",
        }
    }
}

/// A refusal of state that belongs elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateBound {
    pub kind: StateBoundKind,
}

#[derive(Deserialize, Default)]
struct Envelope {
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

/// Phrases (lowercase, backticks removed) and the kind each names; every phrase of a row must
/// be in the message.
const PHRASES: &[(&[&str], StateBoundKind)] = &[
    (
        &["encrypted content", "could not be verified"],
        StateBoundKind::EncryptedContent,
    ),
    (
        &["encrypted content", "could not be decrypted"],
        StateBoundKind::EncryptedContent,
    ),
    (
        &["invalid signature in thinking block"],
        StateBoundKind::ThinkingSignature,
    ),
    (
        &["bound to a different conversation"],
        StateBoundKind::OtherConversation,
    ),
    (
        &["item id", "does not belong to this connection"],
        StateBoundKind::ItemNotOnConnection,
    ),
    (
        &["previous response with id", "not found"],
        StateBoundKind::StoredItemMissing,
    ),
    (&["item with id", "not found"], StateBoundKind::StoredItemMissing),
];

/// Error codes that name foreign state whatever the message says.
const CODES: &[(&str, StateBoundKind)] = &[
    ("invalid_encrypted_content", StateBoundKind::EncryptedContent),
    ("previous_response_not_found", StateBoundKind::StoredItemMissing),
];

/// Whether a refused answer (its status and the first bytes of its body) says the request
/// carried conversation state that belongs to another account. Only 400 and 401 qualify; the
/// body's `error.code` and `error.message` are read when it parses, else the text itself (a
/// truncated body still counts). A 401 about the credential never matches.
pub fn classify_state_bound_error(status: u16, body: &str) -> Option<StateBound> {
    if !matches!(status, 400 | 401) {
        return None;
    }
    let error = serde_json::from_str::<Envelope>(body)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default();
    if let Some(code) = error.code.as_ref().and_then(|c| c.as_str()) {
        if let Some((_, kind)) = CODES.iter().find(|(c, _)| *c == code) {
            return Some(StateBound { kind: *kind });
        }
    }
    let text = error.message.as_deref().unwrap_or(body);
    state_bound_text(text).map(|kind| StateBound { kind })
}

/// The kind a message names, if any (shared with the stream's error events).
pub(super) fn state_bound_text(text: &str) -> Option<StateBoundKind> {
    let lower = text.to_lowercase().replace('`', "");
    PHRASES
        .iter()
        .find(|(words, _)| words.iter().all(|w| lower.contains(w)))
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::StateBoundKind::*;
    use super::*;

    fn kind(status: u16, body: &str) -> Option<StateBoundKind> {
        classify_state_bound_error(status, body).map(|s| s.kind)
    }

    #[test]
    fn openai_encrypted_content_with_its_code_or_code_null() {
        let with_code = r#"{"error":{"message":"The encrypted content gAAAA-fake-abc could not be verified. Reason: Encrypted content could not be decrypted or parsed.","type":"invalid_request_error","param":null,"code":"invalid_encrypted_content"}}"#;
        assert_eq!(kind(400, with_code), Some(EncryptedContent));
        let code_null = r#"{"error":{"message":"The encrypted content gAAAA-fake-abc could not be verified.","type":"invalid_request_error","param":null,"code":null}}"#;
        assert_eq!(kind(400, code_null), Some(EncryptedContent));
        let copilot = r#"{"error":{"message":"Encrypted content could not be decrypted or parsed","code":"invalid_request_body"}}"#;
        assert_eq!(kind(400, copilot), Some(EncryptedContent));
        let code_only = r#"{"error":{"message":"bad","code":"invalid_encrypted_content"}}"#;
        assert_eq!(kind(400, code_only), Some(EncryptedContent));
        let truncated = &with_code[..120];
        assert_eq!(kind(400, truncated), Some(EncryptedContent), "a cut body still counts");
    }

    #[test]
    fn anthropic_thinking_signature_and_other_conversation() {
        let sig = r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid `signature` in `thinking` block"},"request_id":"req_fake"}"#;
        assert_eq!(kind(400, sig), Some(ThinkingSignature));
        let bound = r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages.3.content.0: This thinking block is bound to a different conversation and cannot be used here."}}"#;
        assert_eq!(kind(400, bound), Some(OtherConversation));
    }

    #[test]
    fn copilot_401_item_not_on_this_connection_is_state_not_login() {
        let body = r#"{"error":{"message":"input item ID does not belong to this connection","code":"unauthorized"}}"#;
        assert_eq!(kind(401, body), Some(ItemNotOnConnection));
        assert_eq!(
            kind(401, "input item ID does not belong to this connection"),
            Some(ItemNotOnConnection)
        );
    }

    #[test]
    fn store_true_references_to_the_first_account() {
        let prev = r#"{"error":{"message":"Previous response with id 'resp_fake' not found.","type":"invalid_request_error","param":"previous_response_id","code":"previous_response_not_found"}}"#;
        assert_eq!(kind(400, prev), Some(StoredItemMissing));
        let item = r#"{"error":{"message":"Item with id 'rs_fake' not found. Items are not persisted when `store` is set to false.","type":"invalid_request_error","param":"input","code":null}}"#;
        assert_eq!(kind(400, item), Some(StoredItemMissing));
    }

    #[test]
    fn login_failures_other_400s_and_other_statuses_do_not_match() {
        let not_state = [
            (
                401,
                r#"{"error":{"message":"Incorrect API key provided: sk-fake. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            ),
            (
                401,
                r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            ),
            (
                401,
                r#"{"error":{"message":"Your authentication token has expired. Please try signing in again.","code":"token_expired"}}"#,
            ),
            (401, "unauthorized"),
            (
                400,
                r#"{"error":{"message":"Invalid 'input[3].id': 'x'. Expected an ID that begins with 'msg'.","code":"invalid_value"}}"#,
            ),
            (
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: text content blocks must be non-empty"}}"#,
            ),
            (
                400,
                r#"{"error":{"message":"This model's maximum context length is 400000 tokens.","code":"context_length_exceeded"}}"#,
            ),
            (
                400,
                r#"{"error":{"message":"The signature of the request is invalid","code":null}}"#,
            ),
            (400, ""),
        ];
        for (status, body) in not_state {
            assert_eq!(kind(status, body), None, "{body}");
        }
        let sig = r#"{"error":{"message":"Invalid `signature` in `thinking` block"}}"#;
        for status in [200, 403, 404, 429, 500, 529] {
            assert_eq!(kind(status, sig), None, "{status}");
        }
    }
}
