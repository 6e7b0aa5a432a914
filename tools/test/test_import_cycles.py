#!/usr/bin/env python3
"""Tests of tools/import_cycles.py on two tiny fixture crates under tools/test/import_cycles/.

`circles/` holds three circles the tool must report (a path in code, a grouped use, an inline
module reaching up with super::super, and one hidden behind a parent's re-export); `clean/` holds
only shapes that are not circles (parent/child, comments, strings, `use super::*` in tests) and
must still yield its two real edges, so a tool that reads nothing cannot pass.

    python3 tools/test/test_import_cycles.py
"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "import_cycles.py")
sys.path.insert(0, os.path.join(HERE, ".."))
import import_cycles  # noqa: E402


def run(fixture):
    return subprocess.run(
        [sys.executable, TOOL, os.path.join(HERE, "import_cycles", fixture)],
        capture_output=True,
        text=True,
    )


class ImportCycles(unittest.TestCase):
    def test_reports_every_circle_with_the_items_each_step_imports_and_exits_1(self):
        out = run("circles")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertEqual(
            out.stdout.splitlines(),
            [
                "circle 1: a → b → a",
                "    a → b: B",
                "    b → a: A",
                "circle 2: b → q::deep → b",
                "    b → q::deep: helper",
                "    q::deep → b: B",
                "circle 3: p::x → p::y → p::x",
                "    p::x → p::y: Bar",
                "    p::y → p::x: Foo",
                "3 import circle(s) among 8 modules, 8 import edges",
            ],
        )

    def test_parent_child_comments_and_strings_are_no_circle_and_exit_0(self):
        out = run("clean")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stdout.strip(), "no import circles: 6 modules, 2 import edges")

    def test_clean_fixture_still_has_its_real_edges(self):
        crate = import_cycles.Crate(os.path.join(HERE, "import_cycles", "clean"))
        crate.load()
        edges = {(a, b): items for (a, b), items in crate.edges().items()}
        self.assertEqual(edges, {(("a",), ("b",)): {"B"}, (("p",), ("p", "c")): {"go"}})

    def test_use_trees_expand_to_every_leaf(self):
        self.assertEqual(
            import_cycles.expand_use("crate::{a::{B as C, self}, d::*}"),
            [(("crate", "a", "B"), "C"), (("crate", "a"), None), (("crate", "d", "*"), None)],
        )


if __name__ == "__main__":
    unittest.main()
