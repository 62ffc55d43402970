"""README.md and docs/: every relative link points at a file that exists, so moving a page cannot leave dead links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    """Each ``[text](target)`` that is not a URL or an anchor names an existing file or folder."""
    dead = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            dead.append(target)
    assert dead == [], f"{page.relative_to(ROOT)}: dead links {dead}"


def test_readme_stays_a_front_door():
    """The README is at most 150 lines and its results table gives each row a command and a docs/results page."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    table = text.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| capability")]
    assert len(rows) >= 6
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2].startswith("`") and "](docs/results/" in cells[3], row
