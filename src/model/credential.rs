//! Parsing credentials from untrusted JSON (auth.json, `OPENCODE_AUTH_CONTENT`, the CLI's stdin,
//! `accounts.save`): shapes are checked here, field by field, and every error names the place
//! and the kind of problem, never a value (serde's own messages quote values, so none is used).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Auth;

/// What is wrong with untrusted credential input and where. It holds no part of the input (only
/// the caller's name for the source, field names this parser knows, and JSON kinds), so it can be
/// logged, shown and returned as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CredentialError {
    source: String,
    field: Option<&'static str>,
    problem: Problem,
}

/// The kind of problem, without the value that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// Not JSON (serde's category) at a position.
    NotJson {
        kind: &'static str,
        line: usize,
        column: usize,
    },
    /// A value of the wrong JSON kind: what was expected, which kind was found.
    Expected {
        expected: &'static str,
        found: &'static str,
    },
    /// A required field is absent.
    Missing,
    /// `type` is a string this version does not know.
    UnknownType,
    /// An auth.json key that is not a provider id opencode writes: how it is wrong.
    InvalidProviderId(&'static str),
}

impl CredentialError {
    /// A problem of the whole value from `source` (e.g. `auth.json entry openai`).
    pub fn new(source: &str, problem: Problem) -> CredentialError {
        CredentialError {
            source: source.to_string(),
            field: None,
            problem,
        }
    }

    fn at(source: &str, field: &'static str, problem: Problem) -> CredentialError {
        CredentialError {
            field: Some(field),
            ..CredentialError::new(source, problem)
        }
    }

    /// Input that is not JSON: only serde's category and the position, never its message.
    pub fn not_json(source: &str, e: &serde_json::Error) -> CredentialError {
        let kind = match e.classify() {
            serde_json::error::Category::Io => "a read error",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "the wrong shape",
            serde_json::error::Category::Eof => "it ends early",
        };
        CredentialError::new(
            source,
            Problem::NotJson {
                kind,
                line: e.line(),
                column: e.column(),
            },
        )
    }

    pub fn problem(&self) -> Problem {
        self.problem
    }
}

/// The one description of a credential error, used by every parser of credentials:
/// `<source>[, field <name>]: <kind>`.
impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = &self.source;
        let field = self.field.unwrap_or("");
        match self.problem {
            Problem::NotJson { kind, line, column } => {
                write!(f, "{source} does not parse: {kind} (line {line}, column {column})")
            }
            Problem::Missing => write!(f, "{source}: missing field {field}"),
            Problem::Expected { expected, found } if self.field.is_some() => {
                write!(f, "{source}, field {field}: expected {expected}, found {found}")
            }
            Problem::Expected { expected, found } => write!(f, "{source}: expected {expected}, found {found}"),
            Problem::UnknownType => write!(
                f,
                "{source}: a type this version does not know (it knows api, oauth, wellknown)"
            ),
            Problem::InvalidProviderId(how) => write!(
                f,
                "{source}: an entry whose provider id {how} (opencode writes 1-64 characters of A-Za-z0-9._-)"
            ),
        }
    }
}

impl std::error::Error for CredentialError {}

/// The JSON kind of a value, for "found …" (never the value itself).
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses JSON text; an error names `source` and the position only.
pub fn parse_json(text: &str, source: &str) -> Result<Value, CredentialError> {
    serde_json::from_str(text).map_err(|e| CredentialError::not_json(source, &e))
}

/// One credential in any of opencode's shapes. Fields this version does not know are accepted
/// and dropped (opencode itself drops them on its next write); `null` counts as absent for the
/// optional ones.
pub fn parse_credential(value: &Value, source: &str) -> Result<Auth, CredentialError> {
    let Value::Object(map) = value else {
        return Err(CredentialError::new(
            source,
            Problem::Expected {
                expected: "an object",
                found: kind_of(value),
            },
        ));
    };
    let f = Fields { map, source };
    Ok(match f.string("type")?.as_str() {
        "api" => Auth::Api {
            key: f.string("key")?,
            metadata: f.metadata()?,
        },
        "oauth" => Auth::Oauth {
            refresh: f.string("refresh")?,
            access: f.string("access")?,
            expires: f.millis("expires")?,
            account_id: f.optional_string("accountId")?,
            enterprise_url: f.optional_string("enterpriseUrl")?,
            metadata: f.metadata()?,
        },
        "wellknown" => Auth::Wellknown {
            key: f.string("key")?,
            token: f.string("token")?,
        },
        _ => return Err(CredentialError::at(source, "type", Problem::UnknownType)),
    })
}

impl Auth {
    /// Parses the credential a user hands the CLI: an auth JSON object or a bare API key.
    pub fn from_user_input(text: &str) -> Result<Auth, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("no credential given on standard input".into());
        }
        // JSON (an object, or anything else JSON-shaped a bare key cannot start with) must be
        // an auth object; it is never saved as the text of a key.
        if text.starts_with(['{', '[', '"']) {
            const SOURCE: &str = "the credential on standard input";
            let value = parse_json(text, SOURCE).map_err(|e| e.to_string())?;
            return parse_credential(&value, SOURCE).map_err(|e| e.to_string());
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a bare API key must be one word without spaces".into());
        }
        Ok(Auth::Api {
            key: text.to_string(),
            metadata: None,
        })
    }
}

/// The fields of one credential object, read by name.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    source: &'a str,
}

impl Fields<'_> {
    fn wrong(&self, field: &'static str, expected: &'static str, found: &Value) -> CredentialError {
        CredentialError::at(
            self.source,
            field,
            Problem::Expected {
                expected,
                found: kind_of(found),
            },
        )
    }

    fn present(&self, field: &'static str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn string(&self, field: &'static str) -> Result<String, CredentialError> {
        match self.map.get(field) {
            None => Err(CredentialError::at(self.source, field, Problem::Missing)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    fn optional_string(&self, field: &'static str) -> Result<Option<String>, CredentialError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    /// Milliseconds since the epoch: an integer, or a number with no fraction (JavaScript writes
    /// every number alike), within i64.
    fn millis(&self, field: &'static str) -> Result<i64, CredentialError> {
        const EXPECTED: &str = "a whole number of milliseconds";
        let value = self
            .map
            .get(field)
            .ok_or_else(|| CredentialError::at(self.source, field, Problem::Missing))?;
        let Value::Number(n) = value else {
            return Err(self.wrong(field, EXPECTED, value));
        };
        let whole = n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(f))
                .map(|f| f as i64)
        });
        whole.ok_or_else(|| {
            CredentialError::at(
                self.source,
                field,
                Problem::Expected {
                    expected: EXPECTED,
                    found: "a number with a fraction or out of range",
                },
            )
        })
    }

    /// `metadata`: an object of strings. Its keys are not named in errors (they are input too).
    fn metadata(&self) -> Result<Option<BTreeMap<String, String>>, CredentialError> {
        const EXPECTED: &str = "an object of strings";
        match self.present("metadata") {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    other => Err(CredentialError::at(
                        self.source,
                        "metadata",
                        Problem::Expected {
                            expected: EXPECTED,
                            found: match other {
                                Value::Null => "a null value",
                                Value::Bool(_) => "a boolean value",
                                Value::Number(_) => "a number value",
                                Value::Array(_) => "an array value",
                                _ => "an object value",
                            },
                        },
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(other) => Err(self.wrong("metadata", EXPECTED, other)),
        }
    }
}

/// Reads a credential through serde with the errors of [`parse_credential`], naming `source`.
pub fn deserialize_credential<'de, D: Deserializer<'de>>(d: D, source: &str) -> Result<Auth, D::Error> {
    let value = Value::deserialize(d)?;
    parse_credential(&value, source).map_err(D::Error::custom)
}

/// `#[serde(deserialize_with)]` for a method's `auth` param: errors name the field `auth`.
pub fn deserialize_auth_param<'de, D: Deserializer<'de>>(d: D) -> Result<Auth, D::Error> {
    deserialize_credential(d, "auth")
}

impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_credential(d, "the credential")
    }
}
