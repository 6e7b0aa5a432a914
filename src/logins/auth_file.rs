//! opencode's auth.json, read safely and parsed entry by entry: opened without blocking, only a
//! regular file (symlinks followed), at most [`MAX_AUTH_FILE_BYTES`]; one bad entry is skipped
//! and described (provider id and kind, never a value) while the good ones are kept.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{kind_of, parse_credential, parse_json, validate_provider, Auth, CredentialError, Problem};

/// The largest auth.json read (1 MiB; opencode's own is a few KB). A larger file, or content of
/// `OPENCODE_AUTH_CONTENT`, is refused as a whole.
pub const MAX_AUTH_FILE_BYTES: u64 = 1024 * 1024;

/// `$XDG_DATA_HOME/opencode/auth.json`, default `~/.local/share/opencode/auth.json`.
pub fn default_auth_path() -> PathBuf {
    auth_path_in(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_auth_path`] with `XDG_DATA_HOME` and `HOME` read from `vars`.
pub fn auth_path_from(vars: impl Fn(&str) -> Option<String>) -> PathBuf {
    auth_path_in(vars("XDG_DATA_HOME").map(Into::into), vars("HOME").map(Into::into))
}

fn auth_path_in(data_home: Option<OsString>, home: Option<OsString>) -> PathBuf {
    let data = data_home
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.map(PathBuf::from).unwrap_or_default().join(".local/share"));
    data.join("opencode").join("auth.json")
}

/// Why auth.json (or `OPENCODE_AUTH_CONTENT`) was not read at all. Never holds its content.
#[derive(Debug)]
pub enum AuthFileError {
    /// Not a regular file once symlinks are followed: what it is (`a FIFO`, `a directory`, …).
    NotRegular(&'static str),
    TooLarge,
    NotUtf8,
    Io(std::io::Error),
    /// Not JSON, or not an object at the top.
    Invalid(CredentialError),
}

impl fmt::Display for AuthFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFileError::NotRegular(what) => write!(f, "auth.json is {what}, not a regular file"),
            AuthFileError::TooLarge => write!(
                f,
                "auth.json is larger than {} KiB (opencode's own is a few KB)",
                MAX_AUTH_FILE_BYTES / 1024
            ),
            AuthFileError::NotUtf8 => write!(f, "auth.json is not UTF-8 text"),
            AuthFileError::Io(e) => write!(f, "auth.json cannot be read: {e}"),
            AuthFileError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// What a regular file is not, or `None` for a regular file.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    let kinds = [
        (t.is_dir(), "a directory"),
        (t.is_fifo(), "a FIFO"),
        (t.is_char_device(), "a character device"),
        (t.is_block_device(), "a block device"),
        (t.is_socket(), "a socket"),
    ];
    match kinds.into_iter().find(|(is, _)| *is) {
        _ if t.is_file() => None,
        Some((_, what)) => Some(what),
        None => Some("not a file"),
    }
}

/// The text of auth.json at `path`, `None` when there is none. A special file is refused before
/// it is opened (a FIFO's writer is never woken), the file is opened with `O_NONBLOCK` all the
/// same and checked again once open (it may have been replaced), and at most
/// `MAX_AUTH_FILE_BYTES + 1` bytes are read whatever its size claims (a sparse or growing file).
pub fn read_auth_file(path: &Path) -> Result<Option<String>, AuthFileError> {
    let missing_is_none = |e: std::io::Error| match e.kind() {
        ErrorKind::NotFound => Ok(None),
        _ => Err(AuthFileError::Io(e)),
    };
    let check = |meta: &Metadata| match not_regular(meta) {
        Some(what) => Err(AuthFileError::NotRegular(what)),
        None if meta.len() > MAX_AUTH_FILE_BYTES => Err(AuthFileError::TooLarge),
        None => Ok(()),
    };
    match std::fs::metadata(path) {
        Ok(meta) => check(&meta)?,
        Err(e) => return missing_is_none(e),
    }
    let file: File = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return missing_is_none(e),
    };
    check(&file.metadata().map_err(AuthFileError::Io)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_AUTH_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(AuthFileError::Io)?;
    if bytes.len() as u64 > MAX_AUTH_FILE_BYTES {
        return Err(AuthFileError::TooLarge);
    }
    String::from_utf8(bytes).map(Some).map_err(|_| AuthFileError::NotUtf8)
}

/// The logins of one version of auth.json: every good entry, and a description of each one skipped.
#[derive(Debug, Default)]
pub struct AuthFile {
    pub entries: BTreeMap<String, Auth>,
    pub skipped: Vec<CredentialError>,
}

/// Parses auth.json: an object of provider id → credential. Only text that is not JSON or not an
/// object is refused whole; an entry with a bad provider id or a bad credential is skipped.
pub fn parse_auth_file(text: &str) -> Result<AuthFile, AuthFileError> {
    parse_logins(text, "auth.json")
}

/// [`parse_auth_file`] for content that came from `source` (`OPENCODE_AUTH_CONTENT`, say).
pub fn parse_logins(text: &str, source: &str) -> Result<AuthFile, AuthFileError> {
    if text.len() as u64 > MAX_AUTH_FILE_BYTES {
        return Err(AuthFileError::TooLarge);
    }
    if text.trim().is_empty() {
        return Ok(AuthFile::default());
    }
    let value = parse_json(text, source).map_err(AuthFileError::Invalid)?;
    let Value::Object(raw) = value else {
        return Err(AuthFileError::Invalid(CredentialError::new(
            source,
            Problem::Expected {
                expected: "an object of provider logins",
                found: kind_of(&value),
            },
        )));
    };
    let mut out = AuthFile::default();
    for (provider, value) in raw {
        if let Some(how) = provider_id_problem(&provider) {
            out.skipped
                .push(CredentialError::new(source, Problem::InvalidProviderId(how)));
            continue;
        }
        match parse_credential(&value, &format!("{source} entry {provider}")) {
            Ok(auth) => {
                out.entries.insert(provider, auth);
            }
            Err(e) => out.skipped.push(e),
        }
    }
    Ok(out)
}

/// How a key is not a provider id, without repeating it (a pasted key is not shown).
fn provider_id_problem(id: &str) -> Option<&'static str> {
    if validate_provider(id).is_some() {
        None
    } else if id.is_empty() {
        Some("is empty")
    } else if id.len() > 64 {
        Some("is longer than 64 characters")
    } else {
        Some("has characters outside A-Za-z0-9._-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_entries_are_kept_and_bad_ones_skipped_by_provider_id_and_kind() {
        let text = r#"{"openai":{"type":"api","key":"sk-a"},"mock":{"type":"wellknown","key":"k","token":"t"},
            "x":{"type":"magic","key":"sk-secret-b"},"groq":"sk-secret-c","bad id":{"type":"api","key":"k"},
            "plugin":{"type":"api","key":"k2","addedByAPlugin":{"any":"thing"}}}"#;
        let file = parse_auth_file(text).unwrap();
        assert_eq!(file.entries.keys().collect::<Vec<_>>(), ["mock", "openai", "plugin"]);
        let skipped: Vec<String> = file.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "auth.json: an entry whose provider id has characters outside A-Za-z0-9._- (opencode writes 1-64 characters of A-Za-z0-9._-)",
                "auth.json entry groq: expected an object, found a string",
                "auth.json entry x: a type this version does not know (it knows api, oauth, wellknown)",
            ]
        );
    }

    #[test]
    fn only_text_that_is_not_a_json_object_is_refused_whole() {
        assert!(parse_auth_file("").unwrap().entries.is_empty());
        assert!(parse_auth_file(" \n").unwrap().entries.is_empty());
        let e = parse_auth_file("{\"openai\": {\"type\":").unwrap_err().to_string();
        assert_eq!(e, "auth.json does not parse: it ends early (line 1, column 19)");
        let e = parse_auth_file("[1,2]").unwrap_err().to_string();
        assert_eq!(e, "auth.json: expected an object of provider logins, found an array");
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_AUTH_FILE_BYTES as usize));
        assert!(matches!(parse_auth_file(&big), Err(AuthFileError::TooLarge)));
    }

    #[test]
    fn a_missing_file_is_none_and_special_files_are_refused_unopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        assert!(read_auth_file(&path).unwrap().is_none());
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        assert_eq!(
            read_auth_file(&path).unwrap_err().to_string(),
            "auth.json is a character device, not a regular file"
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(matches!(
            read_auth_file(&path),
            Err(AuthFileError::NotRegular("a directory"))
        ));
        std::fs::remove_dir(&path).unwrap();
        std::fs::write(dir.path().join("real"), "{}").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), &path).unwrap();
        assert_eq!(read_auth_file(&path).unwrap().as_deref(), Some("{}"));
    }

    #[test]
    fn a_sparse_file_larger_than_the_limit_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let f = File::create(&path).unwrap();
        f.set_len(64 * 1024 * 1024 * 1024).unwrap();
        assert!(matches!(read_auth_file(&path), Err(AuthFileError::TooLarge)));
        f.set_len(MAX_AUTH_FILE_BYTES).unwrap();
        assert_eq!(
            read_auth_file(&path).unwrap().unwrap().len() as u64,
            MAX_AUTH_FILE_BYTES
        );
        f.set_len(MAX_AUTH_FILE_BYTES + 1).unwrap();
        assert!(matches!(read_auth_file(&path), Err(AuthFileError::TooLarge)));
    }
}
