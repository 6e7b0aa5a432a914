//! The wire form of the answers that keep a turn going when a provider runs dry: `switch` (send
//! the request to another provider) and `fail` (answer the host at once), for `fetch.begin` and
//! `fetch.result` (docs/protocol.md, "Keeping a turn going").

use serde_json::{json, Value};

use crate::actors::retry_balancer::{FailAnswer, SwitchAnswer};

/// `{action:"switch", account, modelID, url, setHeaders, removeHeaders, body:{set, remove},
/// syncAuth?}`; at `fetch.begin` also `passthrough:true`, which a plugin that does not know the
/// action follows (the request goes out untouched, as before).
pub fn switch_json(s: &SwitchAnswer, at_begin: bool) -> Value {
    let mut out = json!({
        "action": "switch",
        "account": s.account,
        "modelID": s.model_id,
        "url": s.url,
        "setHeaders": s.set_headers,
        "removeHeaders": s.remove_headers,
        "body": {"set": s.body_set, "remove": s.body_remove},
    });
    if let Some(a) = &s.sync_auth {
        out["syncAuth"] = json!({"providerID": a.provider_id, "auth": a.auth});
    }
    if at_begin {
        out["passthrough"] = json!(true);
    }
    out
}

/// `{action:"fail", status, message, resubmit?:{sessionID, providerID, modelID, message}}`; at
/// `fetch.begin` also `passthrough:true`.
pub fn fail_json(f: &FailAnswer, at_begin: bool) -> Value {
    let mut out = json!({"action": "fail", "status": f.status, "message": f.message});
    if let Some(r) = &f.resubmit {
        out["resubmit"] = json!({
            "sessionID": r.session_id,
            "providerID": r.model.provider_id,
            "modelID": r.model.model_id,
            "message": r.message,
        });
    }
    if at_begin {
        out["passthrough"] = json!(true);
    }
    out
}
