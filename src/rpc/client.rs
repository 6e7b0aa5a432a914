//! A small blocking, typed JSON-RPC client that starts `opencode-balancer serve` as a child
//! process and talks to it over pipes, as the opencode plugin does (used by the demo, the
//! benchmark and `doctor`): [`RpcClient::call`] takes a method's typed params and decodes its
//! typed result, notifications arrive as [`Notification`]s.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::api::methods::Shutdown;
use crate::api::NoParams;
use crate::api::Request;
use crate::api::SyncAuthWire;
use crate::model::StoredEvent;

/// `toast` `{message, variant}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Toast {
    pub message: String,
    pub variant: String,
}

/// A notification from the sidecar (docs/protocol.md "Notifications").
#[derive(Debug, Clone)]
pub enum Notification {
    Event(StoredEvent),
    Toast(Toast),
    AuthSync(SyncAuthWire),
    StoreChanged,
    /// A method this client does not know, kept by name.
    Other(String),
}

/// The members of an incoming line this client reads; `T` is the awaited answer's result.
#[derive(Deserialize)]
struct Incoming<T> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct RawNotification<'a> {
    method: &'a str,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Outgoing<'a, P> {
    jsonrpc: &'static str,
    id: u64,
    method: &'static str,
    params: &'a P,
}

fn not_json(e: serde_json::Error) -> String {
    format!("not JSON from the sidecar: {e}")
}

impl Notification {
    fn decode(line: &str) -> Result<Notification, String> {
        let raw: RawNotification = serde_json::from_str(line).map_err(not_json)?;
        let params = raw.params.map_or("{}", RawValue::get);
        Ok(match raw.method {
            "event" => Notification::Event(serde_json::from_str(params).map_err(not_json)?),
            "toast" => Notification::Toast(serde_json::from_str(params).map_err(not_json)?),
            "auth.sync" => Notification::AuthSync(serde_json::from_str(params).map_err(not_json)?),
            "store.changed" => Notification::StoreChanged,
            other => Notification::Other(other.to_string()),
        })
    }
}

pub struct RpcClient {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// Notifications received while waiting for answers.
    pub notifications: Vec<Notification>,
    line: String,
}

impl RpcClient {
    /// Starts `binary --store store serve` with extra environment; stderr is discarded unless
    /// `OPENCODE_BALANCER_LOG` is set.
    pub fn spawn(binary: &Path, store: &Path, env: &[(&str, &str)]) -> std::io::Result<RpcClient> {
        let stderr = if std::env::var_os("OPENCODE_BALANCER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = Command::new(binary)
            .arg("--store")
            .arg(store)
            .arg("serve")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        Ok(RpcClient {
            stdin: BufWriter::new(child.stdin.take().expect("piped stdin")),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")),
            child,
            next_id: 0,
            notifications: Vec::new(),
            line: String::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads one line into `self.line`; `Err` when the sidecar closed its output.
    fn read_line(&mut self) -> Result<(), String> {
        self.line.clear();
        if self.stdout.read_line(&mut self.line).map_err(|e| e.to_string())? == 0 {
            return Err("the sidecar closed its output".into());
        }
        Ok(())
    }

    /// Calls method `R`; `Err` carries the JSON-RPC error object as text, or why the answer
    /// could not be read.
    pub fn call<R: Request>(&mut self, params: &R::Params) -> Result<R::Result, String>
    where
        R::Params: Serialize,
        R::Result: DeserializeOwned,
    {
        self.next_id += 1;
        let id = self.next_id;
        let msg = Outgoing {
            jsonrpc: "2.0",
            id,
            method: R::METHOD,
            params,
        };
        serde_json::to_writer(&mut self.stdin, &msg).map_err(|e| e.to_string())?;
        self.stdin.write_all(b"\n").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        loop {
            self.read_line()?;
            let answer: Incoming<R::Result> = serde_json::from_str(&self.line)
                .map_err(|e| format!("{}: unexpected answer from the sidecar: {e}", R::METHOD))?;
            let Some(got) = answer.id else {
                let n = Notification::decode(&self.line)?;
                self.notifications.push(n);
                continue;
            };
            if got != id {
                return Err(format!("answer for another request: {}", self.line.trim_end()));
            }
            return match (answer.result, answer.error) {
                (Some(r), _) => Ok(r),
                (None, Some(e)) => Err(e.get().to_string()),
                (None, None) => Err(format!("{}: an answer without result or error", R::METHOD)),
            };
        }
    }

    /// Reads until a notification matching `pred` arrives (earlier ones are kept).
    pub fn wait_notification(&mut self, pred: impl Fn(&Notification) -> bool) -> Result<Notification, String> {
        if let Some(i) = self.notifications.iter().position(&pred) {
            return Ok(self.notifications.remove(i));
        }
        loop {
            self.read_line()?;
            let n = Notification::decode(&self.line)?;
            if pred(&n) {
                return Ok(n);
            }
            self.notifications.push(n);
        }
    }

    /// Asks the sidecar to stop and waits for it.
    pub fn shutdown(mut self) -> std::io::Result<std::process::ExitStatus> {
        let _ = self.call::<Shutdown>(&NoParams {});
        self.child.wait()
    }
}

impl Drop for RpcClient {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::{
        BeginResult, BodyEdit, FailTag, FailWire, FetchResultAnswer, RetryTag, ReturnTag, StripState, SwitchTag,
        SwitchWire,
    };
    use crate::model::AccountRef;

    fn account() -> AccountRef {
        AccountRef {
            provider_id: "mock".into(),
            alias: "bravo".into(),
        }
    }

    fn switch(passthrough: Option<bool>) -> SwitchWire {
        SwitchWire {
            action: SwitchTag::Tag,
            account: account(),
            model_id: "m2".into(),
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            set_headers: BTreeMap::from([("authorization".into(), "Bearer k".into())]),
            remove_headers: vec!["x-api-key".into()],
            credential: None,
            body: BodyEdit {
                set: BTreeMap::from([("model".into(), serde_json::json!("m2"))]),
                remove: vec!["reasoning_effort".into()],
            },
            sync_auth: None,
            passthrough,
            strip_state: None,
        }
    }

    fn fail(passthrough: Option<bool>) -> FailWire {
        FailWire {
            action: FailTag::Tag,
            status: 429,
            message: "every account rests".into(),
            resubmit: None,
            passthrough,
        }
    }

    /// Encodes, decodes and encodes again: the same bytes both times.
    fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(answer: &T) -> (String, T) {
        let wire = serde_json::to_string(answer).unwrap();
        let back: T = serde_json::from_str(&wire).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), wire);
        (wire, back)
    }

    #[test]
    fn begin_answers_decode_to_the_variant_they_were_encoded_from() {
        let (wire, back) = round_trip(&BeginResult::Switch(Box::new(switch(Some(true)))));
        assert!(wire.contains(r#""action":"switch""#) && wire.contains(r#""passthrough":true"#));
        assert!(
            matches!(back, BeginResult::Switch(_)),
            "a switch at begin is not a passthrough"
        );
        let (_, back) = round_trip(&BeginResult::Fail(fail(Some(true))));
        assert!(matches!(back, BeginResult::Fail(_)));
        let (wire, back) = round_trip(&BeginResult::Use {
            account: account(),
            set_headers: BTreeMap::from([("authorization".into(), "Bearer k".into())]),
            remove_headers: Vec::new(),
            credential: None,
            strip_state: None,
        });
        assert!(!wire.contains("removeHeaders") && !wire.contains("credential"));
        assert!(matches!(back, BeginResult::Use { .. }));
        let (wire, back) = round_trip(&BeginResult::Use {
            account: account(),
            set_headers: BTreeMap::new(),
            remove_headers: Vec::new(),
            credential: Some(crate::model::CredentialRef {
                id: "cred_b".into(),
                provider: "mock".into(),
            }),
            strip_state: None,
        });
        assert!(
            wire.contains(r#""credential":{"id":"cred_b","provider":"mock"}"#),
            "{wire}"
        );
        assert!(matches!(
            back,
            BeginResult::Use {
                credential: Some(_),
                ..
            }
        ));
        let (wire, back) = round_trip(&BeginResult::Passthrough { passthrough: true });
        assert_eq!(wire, r#"{"passthrough":true}"#);
        assert!(matches!(back, BeginResult::Passthrough { passthrough: true }));
    }

    #[test]
    fn result_answers_decode_to_the_variant_they_were_encoded_from() {
        let (wire, back) = round_trip(&FetchResultAnswer::Return { action: ReturnTag::Tag });
        assert_eq!(wire, r#"{"action":"return"}"#);
        assert!(matches!(back, FetchResultAnswer::Return { .. }));
        let (_, back) = round_trip(&FetchResultAnswer::Retry {
            action: RetryTag::Tag,
            account: account(),
            set_headers: BTreeMap::new(),
            remove_headers: vec!["x-api-key".into()],
            credential: None,
            sync_auth: None,
            strip_state: Some(StripState {
                scope: "same-provider".into(),
            }),
        });
        assert!(back.is_retry());
        let (wire, back) = round_trip(&FetchResultAnswer::Switch(Box::new(switch(None))));
        assert!(!wire.contains("passthrough"));
        assert!(matches!(back, FetchResultAnswer::Switch(_)));
        let (_, back) = round_trip(&FetchResultAnswer::Fail(fail(None)));
        assert!(matches!(back, FetchResultAnswer::Fail(_)));
        assert!(serde_json::from_str::<FetchResultAnswer>(r#"{"action":"later"}"#).is_err());
    }

    #[test]
    fn notifications_decode_by_method_and_keep_unknown_ones_by_name() {
        let toast = r#"{"jsonrpc":"2.0","method":"toast","params":{"message":"hi","variant":"warning"}}"#;
        let Notification::Toast(t) = Notification::decode(toast).unwrap() else {
            panic!("not a toast")
        };
        assert_eq!((t.message.as_str(), t.variant.as_str()), ("hi", "warning"));
        let event = r#"{"jsonrpc":"2.0","method":"event","params":{"id":3,"type":"account_saved","providerID":"p","message":"m","createdAt":1,"metadata":{}}}"#;
        let Notification::Event(e) = Notification::decode(event).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            (e.id, e.kind.as_str(), e.provider_id.as_deref()),
            (3, "account_saved", Some("p"))
        );
        let changed = r#"{"jsonrpc":"2.0","method":"store.changed","params":{}}"#;
        assert!(matches!(
            Notification::decode(changed).unwrap(),
            Notification::StoreChanged
        ));
        let other = r#"{"jsonrpc":"2.0","method":"later.thing","params":[1]}"#;
        assert!(matches!(Notification::decode(other).unwrap(), Notification::Other(m) if m == "later.thing"));
    }
}
