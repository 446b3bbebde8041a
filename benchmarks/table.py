"""The table every benchmark prints: fixed-width columns, the notes last, then the verdict line."""

from __future__ import annotations


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
