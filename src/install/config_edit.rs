//! Adding and removing one entry of a JSON/JSONC config's array (opencode.json's `plugin`, later
//! tui.json's), refusing anything that is not a UTF-8 JSONC object and changing nothing then.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use jsonc_parser::cst::{CstInputValue, CstNode, CstRootNode};
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::ParseOptions;

use super::record::{Record, Records};
use super::safe_write::Target;

const BOM: &str = "\u{feff}";
/// Mode of a config file this command creates: opencode configs may hold API keys.
const NEW_CONFIG_MODE: u32 = 0o600;
const NEW_CONFIG_DIR_MODE: u32 = 0o700;

/// One array entry in one config file: `key` is the top-level array, `entry` the string in it;
/// `also` recognises other forms of it (as `name@1.0.0` or `["name", {…}]`) that count as there.
pub struct Edit<'a> {
    pub key: &'a str,
    pub entry: &'a str,
    pub also: Option<fn(&str) -> bool>,
}

/// The name an array element gives: a string, or the first string of a tuple `["name", {…}]`.
fn element_name(e: &CstNode) -> Option<String> {
    let node = match e.as_array() {
        Some(tuple) => tuple.elements().into_iter().next()?,
        None => e.clone(),
    };
    node.as_string_lit().and_then(|s| s.decoded_value().ok())
}

/// The names in the `plugin` (and opencode 2's `plugins`) arrays of the config at `path`; none
/// when it is missing or not a JSONC object.
pub fn plugin_entries(path: &Path) -> Vec<String> {
    let mut names = array_entries(path, "plugin");
    names.extend(array_entries(path, "plugins"));
    names
}

/// The names in the top-level array `key` of the config at `path`; none when it is missing or
/// not a JSONC object.
pub fn array_entries(path: &Path, key: &str) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(parsed) = parse(path, &bytes) else {
        return Vec::new();
    };
    let Some(obj) = parsed.root.value().and_then(|v| v.as_object()) else {
        return Vec::new();
    };
    let Some(array) = obj.get(key).and_then(|p| p.value()).and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    array.elements().iter().filter_map(element_name).collect()
}

/// The config's text split into a BOM (kept as it is) and the JSONC body, checked to be an object.
struct Parsed {
    bom: &'static str,
    root: CstRootNode,
}

impl Parsed {
    fn text(&self) -> String {
        format!("{}{}", self.bom, self.root)
    }
}

/// Reads `bytes` of `path` as JSONC whose top level is an object. Errors name the file and the
/// problem, never the content (it may hold a key).
fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Parsed> {
    let refuse = |why: String| {
        anyhow::anyhow!(
            "{}: {why}; opencode-balancer edits only a JSON/JSONC object, so nothing was changed",
            path.display()
        )
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| refuse(format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to())))?;
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => ("", text),
    };
    let source = if body.trim().is_empty() { "{}" } else { body };
    let root = CstRootNode::parse(source, &ParseOptions::default()).map_err(|e| {
        let kind = match e.kind() {
            ParseErrorKind::String(_) => "invalid string".to_string(),
            k => k.to_string(),
        };
        let line = source[..e.range().start.min(source.len())].matches('\n').count() + 1;
        refuse(format!("not valid JSON/JSONC ({kind} on line {line})"))
    })?;
    match root.value() {
        Some(v) if v.as_object().is_some() => Ok(Parsed { bom, root }),
        Some(_) => Err(refuse("the top level is not an object".into())),
        None => Err(refuse("no value at the top level".into())),
    }
}

/// The array elements equal to `entry`; `Err` if `key` holds something other than an array.
fn find(path: &Path, parsed: &Parsed, edit: &Edit) -> anyhow::Result<Option<(Vec<CstNode>, usize)>> {
    let obj = parsed.root.object_value_or_set();
    let Some(value) = obj.get(edit.key).and_then(|p| p.value()) else {
        return Ok(None);
    };
    let Some(array) = value.as_array() else {
        bail!(
            "{}: \"{}\" is not an array; nothing was changed",
            path.display(),
            edit.key
        )
    };
    let all = array.elements();
    let count = all.len();
    let ours = all
        .into_iter()
        .filter(|e| {
            e.as_string_lit()
                .and_then(|s| s.decoded_value().ok())
                .is_some_and(|s| s == edit.entry)
        })
        .collect();
    Ok(Some((ours, count)))
}

/// The form of the entry already in the array (exactly it, or what `edit.also` recognises).
fn present(parsed: &Parsed, edit: &Edit) -> Option<String> {
    let obj = parsed.root.value()?.as_object()?;
    let array = obj.get(edit.key)?.value()?.as_array()?;
    array
        .elements()
        .iter()
        .filter_map(element_name)
        .find(|name| name == edit.entry || edit.also.is_some_and(|also| also(name)))
}

/// The text with the entry added, and whether the array had to be created. `Err(form)`: it is
/// already there, in that form.
fn with_entry(path: &Path, parsed: &Parsed, edit: &Edit) -> anyhow::Result<Result<(String, bool), String>> {
    if let Some(form) = present(parsed, edit) {
        return Ok(Err(form));
    }
    let created = match find(path, parsed, edit)? {
        Some(_) => {
            let obj = parsed.root.object_value_or_set();
            let array = obj.get(edit.key).and_then(|p| p.value()).and_then(|v| v.as_array());
            array
                .expect("checked by find")
                .append(CstInputValue::String(edit.entry.into()));
            false
        }
        None => {
            let value = CstInputValue::Array(vec![CstInputValue::String(edit.entry.into())]);
            parsed.root.object_value_or_set().append(edit.key, value);
            true
        }
    };
    Ok(Ok((parsed.text(), created)))
}

/// The text with the entry taken out; the array goes too when it ends up empty and `drop_empty`.
fn without_entry(path: &Path, parsed: &Parsed, edit: &Edit, drop_empty: bool) -> anyhow::Result<Option<String>> {
    let Some((ours, count)) = find(path, parsed, edit)? else {
        return Ok(None);
    };
    if ours.is_empty() {
        return Ok(None);
    }
    if drop_empty && ours.len() == count {
        if let Some(prop) = parsed.root.object_value_or_set().get(edit.key) {
            prop.remove();
        }
    } else {
        for e in ours {
            e.remove();
        }
    }
    Ok(Some(parsed.text()))
}

/// Adds `edit.entry` to the config at `path` (creating the file, 0600, if missing). Nothing is
/// written when the entry is already there. What install wrote is remembered in `records` so that
/// `uninstall` can give back the exact original bytes.
pub fn install(path: &Path, edit: &Edit, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let target = Target::inspect(path)?;
    let parsed = parse(&target.real, target.bytes().unwrap_or_default())?;
    let (text, created_array) = match with_entry(&target.real, &parsed, edit)? {
        Ok(edited) => edited,
        Err(form) => {
            let _ = writeln!(
                out,
                "unchanged: {} already has {form:?} in \"{}\" (installed)",
                path.display(),
                edit.key
            );
            return Ok(());
        }
    };
    let what = format!("add {:?} to \"{}\"", edit.entry, edit.key);
    // The dry run and the real run name the same change ("would create" / "created").
    let (verb, done) = if target.existing.is_some() {
        ("edit", "edited")
    } else {
        ("create", "created")
    };
    if dry_run {
        let _ = writeln!(out, "would {verb}: {} ({what})", shown(&target));
        return Ok(());
    }
    let record = Record::new(target.bytes(), text.as_bytes(), created_array);
    records.put(&target.real, edit.entry, record)?;
    target.replace(text.as_bytes(), NEW_CONFIG_MODE, NEW_CONFIG_DIR_MODE)?;
    let _ = writeln!(out, "{done}: {} ({what})", shown(&target));
    Ok(())
}

/// Takes `edit.entry` out of the config at `path`: the exact bytes from before `install` when the
/// file is still what install wrote, else only the entry (and the array, if install created it and
/// it is now empty).
pub fn uninstall(path: &Path, edit: &Edit, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let target = Target::inspect(path)?;
    let record = records.get(&target.real, edit.entry)?;
    let Some(bytes) = target.bytes() else {
        if record.is_some() && !dry_run {
            records.forget(&target.real, edit.entry)?;
        }
        return Ok(());
    };
    if let Some(rec) = record.as_ref().filter(|r| r.wrote(bytes)) {
        let original = rec.original()?;
        let what = match &original {
            Some(_) => "restore the bytes it had before install",
            None => "remove it: install created it",
        };
        if dry_run {
            let _ = writeln!(out, "would edit: {} ({what})", shown(&target));
            return Ok(());
        }
        match &original {
            Some(b) => target.replace(b, NEW_CONFIG_MODE, NEW_CONFIG_DIR_MODE)?,
            None => target.remove()?,
        }
        records.forget(&target.real, edit.entry)?;
        let _ = writeln!(out, "restored: {} ({what})", shown(&target));
        return Ok(());
    }
    let parsed = parse(&target.real, bytes)?;
    let drop_empty = record.as_ref().is_none_or(|r| r.created_array);
    let Some(text) = without_entry(&target.real, &parsed, edit, drop_empty)? else {
        if record.is_some() && !dry_run {
            records.forget(&target.real, edit.entry)?;
        }
        return Ok(());
    };
    let what = format!("remove {:?} from \"{}\"", edit.entry, edit.key);
    if dry_run {
        let _ = writeln!(out, "would edit: {} ({what})", shown(&target));
        return Ok(());
    }
    target.replace(text.as_bytes(), NEW_CONFIG_MODE, NEW_CONFIG_DIR_MODE)?;
    if record.is_some() {
        records.forget(&target.real, edit.entry)?;
    }
    let _ = writeln!(out, "edited: {} ({what})", shown(&target));
    Ok(())
}

/// The path as named, with the real file when a symlink leads there.
fn shown(t: &Target) -> String {
    if t.named == t.real {
        t.named.display().to_string()
    } else {
        format!("{} -> {}", t.named.display(), t.real.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDIT: Edit = Edit {
        key: "plugin",
        entry: "file:///x/opencode-balancer.js",
        also: None,
    };

    fn p(text: &str) -> anyhow::Result<Parsed> {
        parse(Path::new("cfg.json"), text.as_bytes())
    }

    #[test]
    fn adds_and_removes_keeping_comments_other_entries_and_commas() {
        let text = "{\n  // my settings\n  \"model\": \"a/b\",\n  \"plugin\": [\"other-plugin\"] /* keep */\n}\n";
        let (new, created) = with_entry(Path::new("c"), &p(text).unwrap(), &EDIT).unwrap().unwrap();
        assert!(!created);
        assert!(
            new.contains("// my settings") && new.contains("/* keep */") && new.contains(EDIT.entry),
            "{new}"
        );
        assert!(
            with_entry(Path::new("c"), &p(&new).unwrap(), &EDIT).unwrap().is_err(),
            "idempotent"
        );
        let back = without_entry(Path::new("c"), &p(&new).unwrap(), &EDIT, true)
            .unwrap()
            .unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn a_created_array_goes_away_again_without_a_stray_comma() {
        for text in [
            "{\n  \"model\": \"a/b\"\n}\n",
            "{\r\n  \"model\": \"a/b\", // trailing\r\n}\r\n",
            "{}",
            "",
        ] {
            let (new, created) = with_entry(Path::new("c"), &p(text).unwrap(), &EDIT).unwrap().unwrap();
            assert!(created);
            let (ours, count) = find(Path::new("c"), &p(&new).unwrap(), &EDIT).unwrap().unwrap();
            assert_eq!((ours.len(), count), (1, 1), "{new}");
            let back = without_entry(Path::new("c"), &p(&new).unwrap(), &EDIT, true)
                .unwrap()
                .unwrap();
            assert!(
                !back.contains("plugin") && !back.contains(",\n}") && !back.contains(",,"),
                "{back:?}"
            );
        }
    }

    #[test]
    fn anything_but_a_utf8_jsonc_object_is_refused_without_quoting_it() {
        for bad in [
            "[1]",
            "\"sk-FAKE\"",
            "5",
            "null",
            "{ \"plugin\": [ ",
            "{\"k\": sk-FAKE-word}",
        ] {
            let e = format!("{:#}", p(bad).err().expect(bad));
            assert!(e.contains("cfg.json") && !e.contains("sk-FAKE"), "{e}");
        }
        let e = parse(Path::new("cfg.json"), b"{\"k\": \"sk-FAKE\xff\"}").err().unwrap();
        assert!(format!("{e:#}").contains("not UTF-8"), "{e:#}");
        let e = with_entry(Path::new("c"), &p("{ \"plugin\": 5 }").unwrap(), &EDIT)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not an array"));
    }

    #[test]
    fn an_entry_already_there_in_another_form_is_found_and_nothing_is_added() {
        let npm = Edit {
            key: "plugin",
            entry: "opencode-balancer",
            also: Some(|e| e.starts_with("opencode-balancer@")),
        };
        for text in [
            "{\"plugin\": [[\"opencode-balancer\", {\"x\": 1}]]}",
            "{\"plugin\": [\"a\", \"opencode-balancer@1.0.0\"]}",
            "{\"plugin\": [\"opencode-balancer@^1\"]}",
        ] {
            let form = with_entry(Path::new("c"), &p(text).unwrap(), &npm).unwrap().err();
            assert!(form.is_some_and(|f| f.starts_with("opencode-balancer")), "{text}");
        }
        let tuple = "{\"plugin\": [[\"file:///x/opencode-balancer.js\", {}]]}";
        assert!(with_entry(Path::new("c"), &p(tuple).unwrap(), &EDIT).unwrap().is_err());
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("opencode.json");
        std::fs::write(&cfg, "{\"plugin\": [[\"a@1\", {}], \"b\", 5], \"plugins\": [\"c\"]}").unwrap();
        assert_eq!(plugin_entries(&cfg), ["a@1", "b", "c"]);
    }

    #[test]
    fn a_bom_is_kept() {
        let text = format!("{BOM}{{\"plugin\": []}}");
        let (new, _) = with_entry(Path::new("c"), &p(&text).unwrap(), &EDIT).unwrap().unwrap();
        assert!(new.starts_with(BOM) && new.contains(EDIT.entry), "{new}");
    }
}
