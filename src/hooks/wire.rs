//! JSON-RPC 2.0 wire types: decoding an incoming line, encoding responses and notifications.

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

/// A decoded request: `id` is `None` for a notification.
#[derive(Debug)]
pub struct Request {
    pub id: Option<Value>,
    pub method: String,
    pub params: Value,
}

/// One element of an incoming line, after validation.
pub enum Incoming {
    Request(Request),
    /// Not a valid request: answer with this error and id.
    Invalid(Option<Value>, RpcError),
}

/// Validates one JSON value as a JSON-RPC 2.0 request.
pub fn decode(value: Value) -> Incoming {
    let Value::Object(mut obj) = value else {
        return Incoming::Invalid(None, RpcError::new(INVALID_REQUEST, "a request must be a JSON object"));
    };
    let id = obj.remove("id");
    let id_ok = matches!(
        id,
        None | Some(Value::Null) | Some(Value::String(_)) | Some(Value::Number(_))
    );
    let reply_id = if id_ok { id.clone() } else { None };
    if !id_ok {
        return Incoming::Invalid(
            None,
            RpcError::new(INVALID_REQUEST, "id must be a string, a number or null"),
        );
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid(
            reply_id.or(Some(Value::Null)),
            RpcError::new(INVALID_REQUEST, "jsonrpc must be \"2.0\""),
        );
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return Incoming::Invalid(
            reply_id.or(Some(Value::Null)),
            RpcError::new(INVALID_REQUEST, "method must be a string"),
        );
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p,
        Some(Value::Array(_)) => {
            return Incoming::Invalid(
                reply_id.or(Some(Value::Null)),
                RpcError::invalid_params("params must be an object with named fields"),
            )
        }
        Some(_) => {
            return Incoming::Invalid(
                reply_id.or(Some(Value::Null)),
                RpcError::new(INVALID_REQUEST, "params must be an object"),
            )
        }
    };
    Incoming::Request(Request { id, method, params })
}

pub fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => error_response(id, e),
    }
}

pub fn error_response(id: Value, e: RpcError) -> Value {
    let mut error = json!({"code": e.code, "message": e.message});
    if let Some(d) = e.data {
        error["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
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

    #[test]
    fn decodes_requests_and_notifications() {
        let Incoming::Request(r) = decode(json!({"jsonrpc":"2.0","id":1,"method":"status"})) else {
            panic!()
        };
        assert_eq!((r.id, r.method.as_str()), (Some(json!(1)), "status"));
        let Incoming::Request(r) = decode(json!({"jsonrpc":"2.0","method":"x"})) else {
            panic!()
        };
        assert!(r.id.is_none());
    }

    #[test]
    fn rejects_what_is_not_a_request() {
        for bad in [
            json!(1),
            json!({"id":1,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":{},"method":"x"}),
        ] {
            let Incoming::Invalid(_, e) = decode(bad) else { panic!() };
            assert_eq!(e.code, INVALID_REQUEST);
        }
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
