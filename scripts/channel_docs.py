"""Write docs/protocol.md's channel tables from the one channel table (kiosk/contract/protocol.py).

    python scripts/channel_docs.py            rewrite each table between its markers
    python scripts/channel_docs.py --check    change nothing; exit 1 with a diff if the docs differ

The tables sit between ``<!-- NAME: begin -->`` and ``<!-- NAME: end -->`` lines; everything
else in the file is left as it is. ``make test`` runs the check (tests/kiosk/test_channel_docs.py),
so a channel added to ``CHANNELS`` without running this fails the suite.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

from kiosk.contract.protocol import channel_table, subscription_table

DOCS = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
#: Each generated block: its marker name and what writes it.
BLOCKS: dict[str, Callable[[], str]] = {"channels": channel_table, "subscriptions": subscription_table}


class MarkersMissing(ValueError):
    """The file lacks a block's markers (or has them out of order); the message says which."""


def begin(name: str) -> str:
    return f"<!-- {name}: begin -->\n"


def end(name: str) -> str:
    return f"<!-- {name}: end -->"


def rewrite(text: str) -> str:
    """*text* with every block's content replaced by what the channel table makes of it now."""
    for name, make in BLOCKS.items():
        start, stop = text.find(begin(name)), text.find(end(name))
        if start < 0 or stop < start or text.count(begin(name)) != 1:
            raise MarkersMissing(f"no single '{begin(name).strip()}' … '{end(name)}' block, in that order")
        start += len(begin(name))
        text = text[:start] + make() + text[stop:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the file differs from the channel table")
    parser.add_argument("file", nargs="?", type=Path, default=DOCS, help=f"the page to write (default {DOCS})")
    args = parser.parse_args(argv)
    try:
        before = args.file.read_text(encoding="utf-8")
        after = rewrite(before)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except MarkersMissing as exc:
        print(f"error: {args.file}: {exc}\n  fix: put the markers, each on its own line, around the table they hold", file=sys.stderr)
        return 2
    if before == after:
        return 0
    if args.check:
        diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), str(args.file), "from the channel table")
        sys.stderr.writelines(diff)
        print(f"error: {args.file} differs from the channel table (kiosk/contract/protocol.py CHANNELS)\n  fix: python scripts/channel_docs.py", file=sys.stderr)
        return 1
    args.file.write_text(after, encoding="utf-8")
    print(f"{args.file}: channel tables rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
