//! Byte-exact JSON edits: read a body's objects and arrays as slices of the original text (serde_json
//! `RawValue`), then remove or replace pieces by byte range. Everything not edited — key order,
//! whitespace, number spelling, string escapes — goes out exactly as it came in, so no crate-wide
//! `preserve_order` and no re-serialisation of megabytes of encrypted blobs.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A JSON string decoded, borrowed from the text when it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// An object's members in document order, values as raw slices.
struct Ordered<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Ordered<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((Text(k), v)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The string a JSON value holds, if it is a string.
pub fn string(raw: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Text>(raw).ok().map(|t| t.0)
}

/// One member of an object or item of an array: its value and the byte range that removing it
/// takes out (key included), relative to the document.
#[derive(Clone, Copy, Debug)]
pub struct Child<'a> {
    pub value: &'a str,
    span: (usize, usize),
}

/// An object member: its key and the child.
pub struct Member<'a> {
    pub key: Cow<'a, str>,
    pub child: Child<'a>,
}

/// A body being edited: the original text and the edits so far (non-overlapping byte ranges).
pub struct Splice<'a> {
    src: &'a str,
    edits: Vec<(Range<usize>, Cow<'a, str>)>,
    /// How many pieces of state the edits took out or replaced (for the caller's event).
    pub count: usize,
}

impl<'a> Splice<'a> {
    pub fn new(src: &'a str) -> Self {
        Splice {
            src,
            edits: Vec::new(),
            count: 0,
        }
    }

    /// The document's top-level value, if the text is one valid JSON value.
    pub fn root(&self) -> Option<&'a str> {
        serde_json::from_str::<&RawValue>(self.src).ok().map(RawValue::get)
    }

    fn at(&self, slice: &str) -> usize {
        slice.as_ptr() as usize - self.src.as_ptr() as usize
    }

    /// Skips JSON whitespace and at most one comma from `i`.
    fn next_token(&self, mut i: usize) -> usize {
        let b = self.src.as_bytes();
        let mut comma = false;
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b',' if !comma => {
                    comma = true;
                    i += 1
                }
                _ => break,
            }
        }
        i
    }

    /// The members of `obj` (a slice of this document), or `None` if it is not an object.
    pub fn members(&self, obj: &'a str) -> Option<Vec<Member<'a>>> {
        let Ordered(pairs) = serde_json::from_str::<Ordered<'a>>(obj).ok()?;
        let mut start = self.next_token(self.at(obj) + 1);
        let mut out = Vec::with_capacity(pairs.len());
        for (key, raw) in pairs {
            let value = raw.get();
            let end = self.at(value) + value.len();
            out.push(Member {
                key,
                child: Child {
                    value,
                    span: (start, end),
                },
            });
            start = self.next_token(end);
        }
        Some(out)
    }

    /// The items of `arr` (a slice of this document), or `None` if it is not an array.
    pub fn items(&self, arr: &'a str) -> Option<Vec<Child<'a>>> {
        let raws = serde_json::from_str::<Vec<&'a RawValue>>(arr).ok()?;
        Some(
            raws.into_iter()
                .map(|r| {
                    let value = r.get();
                    let start = self.at(value);
                    Child {
                        value,
                        span: (start, start + value.len()),
                    }
                })
                .collect(),
        )
    }

    /// Replaces a value (a slice of this document) with `with`.
    pub fn replace(&mut self, value: &'a str, with: impl Into<Cow<'a, str>>) {
        let start = self.at(value);
        self.edits.push((start..start + value.len(), with.into()));
        self.count += 1;
    }

    /// Removes the children (all of one container, in order) for which `drop` is set, with their
    /// separators, so the container stays valid JSON and keeps its layout. Returns how many went.
    pub fn remove(&mut self, children: &[Child<'a>], drop: &[bool]) -> usize {
        let n = children.len();
        let gone = drop.iter().filter(|d| **d).count();
        if gone == 0 {
            return 0;
        }
        match drop.iter().position(|d| !*d) {
            None => self.edits.push((children[0].span.0..children[n - 1].span.1, "".into())),
            Some(first_kept) => {
                if first_kept > 0 {
                    self.edits
                        .push((children[0].span.0..children[first_kept].span.0, "".into()));
                }
                for i in first_kept + 1..n {
                    if drop[i] {
                        self.edits.push((children[i - 1].span.1..children[i].span.1, "".into()));
                    }
                }
            }
        }
        self.count += gone;
        gone
    }

    /// The edited text, or `None` when nothing was edited (send the original bytes).
    pub fn finish(mut self) -> Option<String> {
        if self.edits.is_empty() {
            return None;
        }
        self.edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(self.src.len());
        let mut at = 0;
        for (r, with) in &self.edits {
            debug_assert!(r.start >= at, "overlapping edits");
            out.push_str(&self.src[at..r.start]);
            out.push_str(with);
            at = r.end;
        }
        out.push_str(&self.src[at..]);
        Some(out)
    }
}

/// The value of member `key`, if present.
pub fn get<'a, 'm>(members: &'m [Member<'a>], key: &str) -> Option<&'m Child<'a>> {
    members.iter().find(|m| m.key == key).map(|m| &m.child)
}

/// The string value of member `key`, if present and a string.
pub fn get_str<'a>(members: &[Member<'a>], key: &str) -> Option<Cow<'a, str>> {
    get(members, key).and_then(|c| string(c.value))
}

/// The children of a member list, and which of them have a key in `keys`.
pub fn children_with_keys<'a>(members: &[Member<'a>], keys: &[&str]) -> (Vec<Child<'a>>, Vec<bool>) {
    let children = members.iter().map(|m| m.child).collect();
    let drop = members.iter().map(|m| keys.contains(&m.key.as_ref())).collect();
    (children, drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_items(src: &str, which: &[bool]) -> String {
        let mut s = Splice::new(src);
        let items = s.items(s.root().unwrap()).unwrap();
        s.remove(&items, which);
        s.finish().unwrap_or_else(|| src.to_string())
    }

    fn drop_keys(src: &str, keys: &[&str]) -> String {
        let mut s = Splice::new(src);
        let members = s.members(s.root().unwrap()).unwrap();
        let (children, drop) = children_with_keys(&members, keys);
        s.remove(&children, &drop);
        s.finish().unwrap_or_else(|| src.to_string())
    }

    #[test]
    fn removing_array_items_keeps_separators_and_layout() {
        let src = "[\n  1,\n  {\"a\": 2},\n  \"x\"\n]";
        assert_eq!(drop_items(src, &[true, false, false]), "[\n  {\"a\": 2},\n  \"x\"\n]");
        assert_eq!(drop_items(src, &[false, true, false]), "[\n  1,\n  \"x\"\n]");
        assert_eq!(drop_items(src, &[false, false, true]), "[\n  1,\n  {\"a\": 2}\n]");
        assert_eq!(drop_items(src, &[true, true, false]), "[\n  \"x\"\n]");
        assert_eq!(drop_items(src, &[true, false, true]), "[\n  {\"a\": 2}\n]");
        assert_eq!(drop_items(src, &[true, true, true]), "[\n  \n]");
        assert_eq!(drop_items("[1,2,3]", &[false, true, true]), "[1]");
    }

    #[test]
    fn removing_members_takes_their_keys_and_leaves_everything_else_byte_for_byte() {
        let src = r#"{"id":"x", "n": 1.50e3, "s":"\u00e9\"", "id2" :[1 , 2]}"#;
        assert_eq!(
            drop_keys(src, &["id"]),
            r#"{"n": 1.50e3, "s":"\u00e9\"", "id2" :[1 , 2]}"#
        );
        assert_eq!(drop_keys(src, &["s"]), r#"{"id":"x", "n": 1.50e3, "id2" :[1 , 2]}"#);
        assert_eq!(drop_keys(src, &["id2", "n"]), r#"{"id":"x", "s":"\u00e9\""}"#);
        assert_eq!(drop_keys(src, &["id", "n", "s", "id2"]), "{}");
        assert_eq!(drop_keys(r#"{"a\"b":1,"c":2}"#, &["c"]), r#"{"a\"b":1}"#);
        for out in [drop_keys(src, &["id"]), drop_keys(src, &["n", "id2"])] {
            serde_json::from_str::<serde_json::Value>(&out).expect("still valid JSON");
        }
    }

    #[test]
    fn nothing_to_do_is_no_edit() {
        let mut s = Splice::new("[1]");
        let items = s.items(s.root().unwrap()).unwrap();
        assert_eq!(s.remove(&items, &[false]), 0);
        assert!(s.finish().is_none());
    }

    #[test]
    fn a_body_that_is_not_one_json_value_has_no_root() {
        for bad in ["", "{", "{} {}", "[1,]", "{\"a\":1,}", "\u{feff}{}"] {
            assert!(Splice::new(bad).root().is_none(), "{bad:?}");
        }
        let s = Splice::new("  {\"a\":1}\n");
        assert_eq!(s.root(), Some("{\"a\":1}"));
    }
}
