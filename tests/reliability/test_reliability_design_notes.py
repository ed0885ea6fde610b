"""Every pointer into docs/design-notes.md from code, configs or docs names a section that
exists, so that a comment's "measurements: ..." never leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "docs" / "design-notes.md"
SEARCHED = ("qapgen", "baselines", "conf", "bench", "experiments", "README.md")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercased, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", markdown):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_design_note_pointer_names_a_section():
    known = anchors(NOTES.read_text(encoding="utf-8"))
    pointers = {}
    for name in SEARCHED:
        path = ROOT / name
        files = (
            [path]
            if path.is_file()
            else [*path.rglob("*.py"), *path.rglob("*.yaml"), *path.rglob("*.md")]
        )
        for file in files:
            if "results" in file.parts:
                continue
            for anchor in re.findall(
                r"design-notes\.md#([\w-]+)", file.read_text(encoding="utf-8")
            ):
                pointers.setdefault(anchor, file.relative_to(ROOT))
    assert pointers, "no pointers found: the search is broken"
    missing = {anchor: str(file) for anchor, file in pointers.items() if anchor not in known}
    assert not missing
