"""The table every benchmark prints: fixed-width columns, the notes last, then the verdict line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def print_table(header: str, titles: tuple[str, ...], cells: list[tuple[str, ...]], left: set[int], missed: list[str], judged: int) -> None:
    """Columns in *left* are left-aligned (names), the rest right-aligned (numbers); the last
    column (notes) is not padded. *missed* names the rows whose bar failed, of *judged* rows."""
    widths = [max(len(t), *(len(c[i]) for c in cells)) for i, t in enumerate(titles[:-1])]

    def line(values: tuple[str, ...]) -> str:
        fixed = [v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return " | ".join(fixed + [values[-1]])

    print(header)
    print(line(titles))
    print("-+-".join("-" * w for w in widths) + "-+-" + "-" * len(titles[-1]))
    for c in cells:
        print(line(c))
    print(f"\n{len(missed)} of {judged} bars missed" + (": " + "; ".join(missed) if missed else ": all bars met"))


def save_results(path: Path, results: dict[str, Any]) -> None:
    """Write a run's numbers as JSON (benchmarks/results/ is not committed) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results: {path}")
