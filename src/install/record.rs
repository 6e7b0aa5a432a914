//! What `install --config` wrote, so `uninstall` can give back the exact original bytes.
//!
//! One private (0600) JSON file in the balancer's own folder (beside the store), keyed by the
//! config's real path and the entry (see `key`): the original bytes (base64; `null` when install created the file), the
//! SHA-256 of the bytes install wrote, and whether install created the array. A hash, not a copy,
//! of what was written: it only has to tell whether anything changed since; the original has to
//! be a copy, as it is what comes back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::safe_write::Target;

/// File name of the record, in the store's folder.
pub const RECORD_FILE: &str = "balancer-install-record.json";

#[derive(Clone, Serialize, Deserialize)]
pub struct Record {
    original: Option<String>,
    written_sha256: String,
    pub created_array: bool,
}

fn sha256(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Record {
    pub fn new(original: Option<&[u8]>, written: &[u8], created_array: bool) -> Record {
        Record {
            original: original.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            written_sha256: sha256(written),
            created_array,
        }
    }

    /// Whether `bytes` are exactly what install wrote.
    pub fn wrote(&self, bytes: &[u8]) -> bool {
        sha256(bytes) == self.written_sha256
    }

    /// The bytes from before install; `None` when install created the file.
    pub fn original(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.original
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
            .transpose()
            .context("the install record's original bytes are damaged")
    }
}

/// The record file.
pub struct Records {
    pub path: PathBuf,
}

impl Records {
    fn load(&self) -> anyhow::Result<(Target, BTreeMap<String, Record>)> {
        let target = Target::inspect(&self.path)?;
        let map = match target.bytes() {
            Some(b) => serde_json::from_slice(b).map_err(|_| {
                anyhow::anyhow!(
                    "{} is damaged; remove it (uninstall then only takes the entry out)",
                    self.path.display()
                )
            })?,
            None => BTreeMap::new(),
        };
        Ok((target, map))
    }

    fn save(&self, target: &Target, map: &BTreeMap<String, Record>) -> anyhow::Result<()> {
        if map.is_empty() {
            return if target.existing.is_some() {
                target.remove()
            } else {
                Ok(())
            };
        }
        target.replace(&serde_json::to_vec_pretty(map)?, 0o600, 0o700)
    }

    pub fn get(&self, config: &Path, entry: &str) -> anyhow::Result<Option<Record>> {
        Ok(self.load()?.1.get(&key(config, entry)).cloned())
    }

    pub fn put(&self, config: &Path, entry: &str, record: Record) -> anyhow::Result<()> {
        let (target, mut map) = self.load()?;
        map.insert(key(config, entry), record);
        self.save(&target, &map)
    }

    pub fn forget(&self, config: &Path, entry: &str) -> anyhow::Result<()> {
        let (target, mut map) = self.load()?;
        if map.remove(&key(config, entry)).is_some() {
            self.save(&target, &map)?;
        }
        Ok(())
    }
}

/// The config's path for the `file://` entries (the only ones before `--npm`, so records written
/// then still count), `path#entry` for a package name: `install --config` and `install --npm` on
/// one config keep a record each, and each uninstall gives back only what its install did.
fn key(config: &Path, entry: &str) -> String {
    if entry.starts_with("file://") {
        config.display().to_string()
    } else {
        format!("{}#{entry}", config.display())
    }
}
