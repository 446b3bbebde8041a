"""docs/protocol.md's channel tables are the channel table: scripts/channel_docs.py writes them,
and this fails when they differ (a channel added to CHANNELS without running it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from kiosk.contract.protocol import channel_table, subscription_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "channel_docs.py"
DOCS = ROOT / "docs" / "protocol.md"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_the_docs_hold_the_tables_the_channel_table_makes():
    text = DOCS.read_text(encoding="utf-8")
    assert f"<!-- channels: begin -->\n{channel_table()}<!-- channels: end -->" in text
    assert f"<!-- subscriptions: begin -->\n{subscription_table()}<!-- subscriptions: end -->" in text
    result = run("--check")
    assert result.returncode == 0, result.stderr


def test_a_stale_table_fails_the_check_and_is_rewritten(tmp_path):
    stale = tmp_path / "protocol.md"
    original = DOCS.read_text(encoding="utf-8")
    stale.write_text(original.replace("| `nabiz/<device>/help` | fleet → kiosk | 1 | **yes** |", "| `nabiz/<device>/help` | fleet → kiosk | 0 | no |"), encoding="utf-8")
    checked = run("--check", str(stale))
    assert checked.returncode == 1
    assert "-| `nabiz/<device>/help` | fleet → kiosk | 0 | no |" in checked.stderr and "fix: python scripts/channel_docs.py" in checked.stderr
    assert run(str(stale)).returncode == 0
    assert stale.read_text(encoding="utf-8") == original, "rewritten to the table, the rest untouched"


def test_missing_markers_are_a_clear_error(tmp_path):
    bare = tmp_path / "protocol.md"
    bare.write_text("# no tables here\n", encoding="utf-8")
    result = run("--check", str(bare))
    assert result.returncode == 2
    assert "no single '<!-- channels: begin -->' … '<!-- channels: end -->' block" in result.stderr and "fix: put the markers" in result.stderr


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_payload_in_the_table_links_to_its_section():
    text = DOCS.read_text(encoding="utf-8")
    anchors = {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(#([^)]+)\)", channel_table())
    assert len(links) == len(channel_table().splitlines()) - 2 and set(links) <= anchors, set(links) - anchors
