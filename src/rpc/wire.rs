//! JSON-RPC 2.0 wire types: decoding an incoming line, encoding responses and notifications.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
pub const ACCOUNT_NOT_FOUND: i64 = -32001;
pub const ACCOUNT_EXISTS: i64 = -32002;
pub const INVALID_NAME: i64 = -32003;
pub const PENDING_NOT_FOUND: i64 = -32004;
pub const STORE_UNAVAILABLE: i64 = -32005;
pub const UNKNOWN_REQUEST: i64 = -32006;

/// An error answer. Messages never carry a credential.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }
}

/// A request id exactly as the client wrote it (a string, a number or null): echoed byte for byte,
/// so `123456789012345678901234567890` or `-0` come back as they went out.
pub type Id = Box<RawValue>;

/// The most elements one batch may have; a longer batch is refused whole (-32600), nothing run.
pub const MAX_BATCH: usize = 10_000;

/// A decoded request: `id` is `None` for a notification.
#[derive(Debug)]
pub struct Request {
    pub id: Option<Id>,
    pub method: String,
    pub params: Value,
}

/// One element of an incoming line, after validation.
pub enum Incoming {
    Request(Request),
    /// Not a valid request: answer with this error and id (`None`: `id: null`).
    Invalid(Option<Id>, RpcError),
}

impl Incoming {
    /// Whether this is a (valid) `shutdown` request or notification.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, Incoming::Request(r) if r.method == "shutdown")
    }
}

/// A line that is valid JSON: one message or a batch of them, each still raw.
pub enum Parsed<'a> {
    Single(&'a RawValue),
    Batch(Vec<&'a RawValue>),
}

/// Splits a line into its messages without touching them: -32700 when it is not JSON, -32600
/// for an empty batch or one over [`MAX_BATCH`] elements.
pub fn parse_line(line: &[u8]) -> Result<Parsed<'_>, RpcError> {
    let parse_error = |e: serde_json::Error| {
        let what = if std::str::from_utf8(line).is_err() {
            "the line is not UTF-8".to_string()
        } else {
            safe_serde_message(&e)
        };
        RpcError::new(PARSE_ERROR, format!("parse error: {what}"))
    };
    let raw: &RawValue = serde_json::from_slice(line).map_err(parse_error)?;
    if !raw.get().starts_with('[') {
        return Ok(Parsed::Single(raw));
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(parse_error)?;
    match items.len() {
        0 => Err(RpcError::new(INVALID_REQUEST, "an empty batch is not a request")),
        n if n > MAX_BATCH => Err(RpcError::new(
            INVALID_REQUEST,
            format!("a batch has at most {MAX_BATCH} elements, this one has {n}; none was run"),
        )),
        _ => Ok(Parsed::Batch(items)),
    }
}

/// The members of a request object that matter; others are ignored.
#[derive(Deserialize)]
struct Envelope {
    /// `Some` whenever the member is present, `null` included (a request, not a notification).
    #[serde(default, deserialize_with = "present")]
    id: Option<Id>,
    #[serde(default)]
    jsonrpc: Option<Value>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    params: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    Id::deserialize(d).map(Some)
}

/// Validates one message as a JSON-RPC 2.0 request.
pub fn decode(raw: &RawValue) -> Incoming {
    let invalid = |id, message: &str| Incoming::Invalid(id, RpcError::new(INVALID_REQUEST, message));
    if !raw.get().starts_with('{') {
        return invalid(None, "a request must be a JSON object");
    }
    let env: Envelope = match serde_json::from_str(raw.get()) {
        Ok(env) => env,
        Err(e) => return invalid(None, &format!("invalid request: {}", safe_serde_message(&e))),
    };
    // A string, a number or null, as JSON-RPC allows; an object, array or boolean is refused.
    let id_ok = env
        .id
        .as_deref()
        .is_none_or(|id| matches!(id.get().as_bytes()[0], b'"' | b'-' | b'0'..=b'9' | b'n'));
    if !id_ok {
        return invalid(None, "id must be a string, a number or null");
    }
    let id = env.id;
    if env.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return invalid(Some(id.unwrap_or_else(null_id)), "jsonrpc must be \"2.0\"");
    }
    let Some(Value::String(method)) = env.method else {
        return invalid(Some(id.unwrap_or_else(null_id)), "method must be a string");
    };
    let params = match env.params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p,
        Some(Value::Array(_)) => {
            return Incoming::Invalid(
                Some(id.unwrap_or_else(null_id)),
                RpcError::invalid_params("params must be an object with named fields"),
            )
        }
        Some(_) => return invalid(Some(id.unwrap_or_else(null_id)), "params must be an object"),
    };
    Incoming::Request(Request { id, method, params })
}

fn null_id() -> Id {
    RawValue::NULL.to_owned()
}

#[derive(Serialize)]
struct Outgoing<'a> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorObject<'a>>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: i64,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

/// A response line (without its newline); `None` as the id is `null`.
pub fn response(id: Option<&RawValue>, result: &Result<Value, RpcError>) -> String {
    let (result, error) = match result {
        Ok(v) => (Some(v), None),
        Err(e) => (
            None,
            Some(ErrorObject {
                code: e.code,
                message: &e.message,
                data: e.data.as_ref(),
            }),
        ),
    };
    let out = Outgoing {
        jsonrpc: "2.0",
        id: id.unwrap_or(RawValue::NULL),
        result,
        error,
    };
    // Serializing a Value with string keys and a raw id cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

/// An error response line.
pub fn error_response(id: Option<&RawValue>, e: RpcError) -> String {
    response(id, &Err(e))
}

/// A notification line (without its newline).
/// A typed result as `--json` prints it: the members in the order the wire gives them (the wire
/// encodes through a JSON value, whose members are in name order), indented.
pub fn pretty_result<T: Serialize>(result: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&serde_json::to_value(result)?)
}

pub fn notification(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}

/// A serde message with every quoted value removed (field names in backticks stay), so a bad
/// parameter never echoes what may be a secret.
pub fn safe_serde_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    // "at line 1 column 40" means nothing to a caller of a method.
    let msg = full.split(" at line ").next().unwrap_or("");
    // "invalid type: string \"…\", expected …": keep the kind and what was expected, never the value.
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let kind = rest.split([' ', ',']).next().unwrap_or("");
            let expected = rest.rfind(", expected").map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}{kind}{expected}");
        }
    }
    if msg.starts_with("unknown variant") {
        let expected = msg.rfind(", expected").map(|i| &msg[i..]).unwrap_or("");
        return format!("unknown variant{expected}");
    }
    // Other messages name fields in backticks; drop anything quoted all the same.
    let mut out = String::with_capacity(msg.len());
    let mut in_quote = false;
    for c in msg.chars() {
        if c == '"' {
            in_quote = !in_quote;
            if in_quote {
                out.push_str("\"…\"");
            }
        } else if !in_quote {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn decodes_requests_and_notifications() {
        let Incoming::Request(r) = decode(&raw(r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#)) else {
            panic!()
        };
        assert_eq!((r.id.unwrap().get(), r.method.as_str()), ("1", "status"));
        let Incoming::Request(r) = decode(&raw(r#"{"jsonrpc":"2.0","method":"x"}"#)) else {
            panic!()
        };
        assert!(r.id.is_none());
        let Incoming::Request(r) = decode(&raw(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#)) else {
            panic!()
        };
        assert_eq!(
            r.id.unwrap().get(),
            "null",
            "an id of null is a request, not a notification"
        );
    }

    #[test]
    fn rejects_what_is_not_a_request() {
        for bad in [
            "1",
            r#"{"id":1,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#,
        ] {
            let Incoming::Invalid(_, e) = decode(&raw(bad)) else {
                panic!("{bad}")
            };
            assert_eq!(e.code, INVALID_REQUEST, "{bad}");
        }
    }

    #[test]
    fn ids_are_echoed_byte_for_byte() {
        for id in [
            "123456789012345678901234567890",
            "-0",
            "1e400",
            "1.0",
            "-1.5E-7",
            r#""a\"b\\c\u00e9\ud83d\ude00""#,
            "\"é😀\"",
            "null",
        ] {
            let line = format!(r#"{{"jsonrpc":"2.0","id": {id} ,"method":"x"}}"#);
            let Incoming::Request(r) = decode(&raw(&line)) else {
                panic!("{id}")
            };
            let out = response(r.id.as_deref(), &Ok(json!({})));
            assert_eq!(out, format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#));
        }
    }

    #[test]
    fn batches_are_split_raw_and_bounded() {
        let Ok(Parsed::Batch(items)) = parse_line(br#"[{"id":-0}, 2 ]"#) else {
            panic!()
        };
        assert_eq!(items.iter().map(|i| i.get()).collect::<Vec<_>>(), [r#"{"id":-0}"#, "2"]);
        assert_eq!(parse_line(b"[]").err().unwrap().code, INVALID_REQUEST);
        let over = format!("[{}1]", "1,".repeat(MAX_BATCH));
        assert_eq!(parse_line(over.as_bytes()).err().unwrap().code, INVALID_REQUEST);
        let full = format!("[{}1]", "1,".repeat(MAX_BATCH - 1));
        assert!(matches!(parse_line(full.as_bytes()), Ok(Parsed::Batch(b)) if b.len() == MAX_BATCH));
        assert_eq!(parse_line(b"{nope").err().unwrap().code, PARSE_ERROR);
        assert_eq!(
            parse_line(b"\xff").err().unwrap().message,
            "parse error: the line is not UTF-8"
        );
    }

    #[test]
    fn serde_messages_lose_their_values() {
        for text in [r#""sk-secret""#, r#""sk-sec\"ret-tail""#] {
            let e = serde_json::from_str::<u8>(text).unwrap_err();
            let m = safe_serde_message(&e);
            assert!(!m.contains("sk-sec") && !m.contains("tail"), "{m}");
            assert!(m.contains("expected"), "{m}");
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(tag = "type")]
        enum E {
            A,
        }
        let e = serde_json::from_str::<E>(r#"{"type":"sk-secret"}"#).unwrap_err();
        assert!(!safe_serde_message(&e).contains("sk-secret"));
    }
}
