#!/usr/bin/env python3
"""Import circles between the modules of a Rust crate: exit 1 and print each one when any.

    python3 tools/import_cycles.py [SRC_DIR]        (default: src)

Reads the module tree from SRC_DIR/lib.rs (and SRC_DIR/main.rs, whose `opencode_balancer::`
paths mean the library), following `mod x;` declarations (with `#[path]`) and inline
`mod x { … }` blocks. Every module, file or inline, is a node. An edge A → B means code in A
names an item that lives in module B: through `use crate::…`, `use super::…`, `use self::…`,
`use child::…`, and paths written in code (`crate::x::Y`, `super::Y`, `child::Y`, and a path
through a module imported by name). A path is resolved to the module that defines the item:
`use` entries (re-exports, `pub use x::*`) in the module named are followed to the item's home.

What is not an edge, so that a circle is a real design smell (sibling files or separate domains
importing each other), not the ordinary shape of a module tree:
- a parent declaring its child (`mod x;`): a declaration is not an import;
- a module naming an item of one of its ancestors (`use super::Item`, `use super::*` in a test
  module, `crate::store::Store` from inside store/): a child leans on its parent by design.
A parent importing its child's items is an edge; it closes a circle only through some third
module, e.g. store → store::guard → actors → store.

Each circle is printed once, from its smallest module, as a → b → … → a, followed by the items
each step imports. Comments, strings and macro bodies' text are not read as paths.
"""

import os
import re
import sys
from collections import defaultdict

LIBRARY_CRATE = "opencode_balancer"
MAX_CIRCLES = 500

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:r#)?" + IDENT + r"(?:\s*::\s*" + IDENT + r")+)")
DEF_RE = re.compile(
    r"\b(?:struct|enum|fn|const|static|type|trait|union|mod)\s+(" + IDENT + r")"
    r"|\bmacro_rules!\s*(" + IDENT + r")"
)
KEYWORD_ROOTS = {"crate", "super", "self", "Self"}


def strip(text):
    """Comments, string and char literals blanked to spaces (line breaks kept)."""
    out = []
    i, n = 0, len(text)

    def blank(s):
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif re.match(r'b?r(#*)"', text[i:i + 20]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + blank(text[i + 2:j]))
            i = j
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('""' + blank(text[i + 2:j]) if j - i >= 2 else text[i:j])
            i = j
        elif c == "'":
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple of segments, () for the crate root
        self.file = file
        self.children = {}  # name -> path tuple
        self.uses = {}  # local name -> absolute path (tuple), from `use`
        self.globs = []  # absolute paths of `use …::*`
        self.defs = set()
        self.use_refs = []  # (absolute path tuple) named by `use` statements
        self.code_refs = []  # raw path segment lists written in code

    @property
    def name(self):
        return "::".join(self.path) if self.path else "crate"


def split_top(s, sep=","):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def expand_use(tree, prefix=()):
    """`a::{b, c::{d as e, *}}` -> [(segments, alias or None)]; `*` is a segment."""
    tree = re.sub(r"\s+", " ", tree).strip()
    out = []
    if "{" in tree:
        brace = tree.index("{")
        head = tree[:brace].strip().rstrip(":").strip()
        inner = tree[brace + 1:tree.rindex("}")]
        head_segs = tuple(s.strip() for s in head.split("::") if s.strip())
        for part in split_top(inner):
            out.extend(expand_use(part, prefix + head_segs))
        return out
    alias = None
    m = re.match(r"(.*?)\s+as\s+(" + IDENT + r")$", tree)
    if m:
        tree, alias = m.group(1), m.group(2)
    segs = prefix + tuple(s.strip() for s in tree.split("::") if s.strip())
    if segs and segs[-1] == "self":
        segs = segs[:-1]
    if segs:
        out.append((segs, alias))
    return out


class Crate:
    def __init__(self, src):
        self.src = os.path.abspath(src)
        self.modules = {}
        self.files = set()

    def load(self):
        lib = os.path.join(self.src, "lib.rs")
        main = os.path.join(self.src, "main.rs")
        if os.path.exists(lib):
            self.load_file(lib, (), mod_rs=True)
        if os.path.exists(main):
            self.load_file(main, ("main",) if os.path.exists(lib) else (), mod_rs=True, binary=True)

    def load_file(self, file, path, mod_rs, binary=False):
        self.files.add(os.path.abspath(file))
        with open(file, encoding="utf-8") as f:
            text = strip(f.read())
        if binary:
            text = re.sub(r"\b" + LIBRARY_CRATE + r"\s*::", "crate::", text)
        mod_dir = os.path.dirname(file) if mod_rs else os.path.splitext(file)[0]
        self.parse_block(text, path, file, mod_dir, binary)

    def parse_block(self, text, path, file, mod_dir, binary=False):
        mod = Module(path, file)
        self.modules[path] = mod
        # Inline `mod x { … }` blocks are modules of their own: cut them out first.
        rest, pos = [], 0
        decl = re.compile(r"((?:#\s*\[[^\]]*\]\s*)*)(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*([;{])")
        while True:
            m = decl.search(text, pos)
            if not m:
                rest.append(text[pos:])
                break
            rest.append(text[pos:m.start()])
            name, attrs = m.group(2), m.group(1)
            child = path + (name,)
            mod.children[name] = child
            if m.group(3) == ";":
                target = self.resolve_file(file, mod_dir, name, attrs, m.start())
                if target and os.path.abspath(target) not in self.files:
                    is_mod_rs = os.path.basename(target) == "mod.rs"
                    self.load_file(target, child, is_mod_rs)
                pos = m.end()
            else:
                depth, j = 1, m.end()
                while j < len(text) and depth:
                    if text[j] == "{":
                        depth += 1
                    elif text[j] == "}":
                        depth -= 1
                    j += 1
                self.parse_block(text[m.end():j - 1], child, file, os.path.join(mod_dir, name), binary)
                pos = j
        body = "".join(rest)
        mod.defs = {a or b for a, b in DEF_RE.findall(body)}
        code = body
        for um in re.finditer(r"\buse\s+([^;]*);", body):
            for segs, alias in expand_use(um.group(1)):
                segs = tuple(s[2:] if s.startswith("r#") else s for s in segs)
                if segs[0].startswith("::"):
                    continue
                mod.use_refs.append(segs)
                if segs[-1] == "*":
                    mod.globs.append(segs[:-1])
                else:
                    mod.uses[alias or segs[-1]] = segs
            code = code.replace(um.group(0), " " * len(um.group(0)), 1)
        for pm in PATH_RE.finditer(code):
            segs = [s.strip() for s in pm.group(1).split("::")]
            mod.code_refs.append(segs)

    def resolve_file(self, file, mod_dir, name, attrs, offset):
        # #[path] values live in string literals, blanked by strip(): read them from the file.
        with open(file, encoding="utf-8") as f:
            raw = f.read()
        m = None
        for m2 in re.finditer(r'#\s*\[\s*path\s*=\s*"([^"]*)"\s*\]\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+' + name + r"\s*;", raw):
            m = m2
        if m:
            return os.path.join(os.path.dirname(file), m.group(1))
        for cand in (os.path.join(mod_dir, name + ".rs"), os.path.join(mod_dir, name, "mod.rs")):
            if os.path.exists(cand):
                return cand
        return None

    # --- resolution -------------------------------------------------------------------------

    def absolute(self, here, segs, depth=0):
        """A path as written in module `here` -> absolute segments, or None (external crate)."""
        segs = list(segs)
        if not segs or depth > 20:
            return None
        first = segs[0]
        if first == "crate":
            return tuple(segs[1:])
        if first in ("self", "Self"):
            return tuple(here) + tuple(segs[1:]) if first == "self" else None
        if first == "super":
            base = list(here)
            while segs and segs[0] == "super":
                if not base:
                    return None
                base.pop()
                segs.pop(0)
            return tuple(base) + tuple(segs)
        mod = self.modules.get(tuple(here))
        if mod is None:
            return None
        if first in mod.children:
            return tuple(here) + tuple(segs)
        if first in mod.uses:
            target = mod.uses[first]
            base = self.absolute(here, target, depth + 1) if target != (first,) else None
            if base is None:
                return None
            return tuple(base) + tuple(segs[1:])
        return None

    def home(self, path, seen=None):
        """Absolute path -> (module that defines the item, item name)."""
        seen = seen or set()
        if path in seen:
            return None
        seen.add(path)
        k = len(path)
        while k > 0 and tuple(path[:k]) not in self.modules:
            k -= 1
        mod_path = tuple(path[:k])
        rest = path[k:]
        if not rest:
            return mod_path, (path[-1] if path else "crate")
        mod = self.modules[mod_path]
        item = rest[0]
        if item in mod.uses and item not in mod.defs:
            target = self.absolute(mod_path, mod.uses[item])
            if target is not None:
                found = self.home(tuple(target) + tuple(rest[1:]), seen)
                if found:
                    return found
        if item not in mod.defs and item != "*":
            for g in mod.globs:
                base = self.absolute(mod_path, g)
                if base is None:
                    continue
                found = self.home(tuple(base) + tuple(rest), seen)
                if found and item in self.modules[found[0]].defs:
                    return found
        return mod_path, item

    def edges(self):
        """{(a, b): set(items)} with the not-an-edge rules applied."""
        out = defaultdict(set)
        for here, mod in self.modules.items():
            refs = []
            for segs in mod.use_refs:
                refs.append(self.absolute(here, segs))
            for segs in mod.code_refs:
                if segs[0] in KEYWORD_ROOTS or segs[0] in mod.children or segs[0] in mod.uses:
                    refs.append(self.absolute(here, segs))
            for ref in refs:
                if not ref:
                    continue
                if ref and ref[-1] == "*":
                    found = (self.home(ref[:-1])[0], "*") if self.home(ref[:-1]) else None
                else:
                    found = self.home(ref)
                if not found:
                    continue
                target, item = found
                if target == here or target == here[:len(target)]:
                    continue  # itself or an ancestor
                out[(here, target)].add(item)
        return out


def circles(nodes, edges):
    """Every elementary circle (Johnson's idea, bounded), each once, from its smallest node."""
    succ = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    order = sorted(nodes)
    rank = {n: i for i, n in enumerate(order)}
    found = []
    for start in order:
        stack = [(start, iter(sorted(succ[start], key=rank.get)))]
        path, on_path = [start], {start}
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(path.pop())
                continue
            if rank[nxt] < rank[start]:
                continue
            if nxt == start:
                found.append(list(path))
                if len(found) >= MAX_CIRCLES:
                    return found, True
            elif nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                stack.append((nxt, iter(sorted(succ[nxt], key=rank.get))))
    return found, False


def main(argv):
    src = argv[1] if len(argv) > 1 else "src"
    crate = Crate(src)
    crate.load()
    if not crate.modules:
        print(f"import_cycles: no lib.rs or main.rs under {src}", file=sys.stderr)
        return 2
    edges = crate.edges()
    name = lambda p: "::".join(p) if p else "crate"  # noqa: E731
    found, truncated = circles(crate.modules.keys(), edges)
    for i, circle in enumerate(found, 1):
        ring = circle + [circle[0]]
        print(f"circle {i}: " + " → ".join(name(p) for p in ring))
        for a, b in zip(ring, ring[1:]):
            print(f"    {name(a)} → {name(b)}: {', '.join(sorted(edges[(a, b)]))}")
    if truncated:
        print(f"… stopped after {MAX_CIRCLES} circles")
    print(
        f"{len(found)} import circle(s) among {len(crate.modules)} modules, {len(edges)} import edges"
        if found
        else f"no import circles: {len(crate.modules)} modules, {len(edges)} import edges"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
