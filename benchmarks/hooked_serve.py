"""``fleet serve`` with a no-op post-commit hook: the server of bench_fleet.py's (b+h0) row.

    python benchmarks/hooked_serve.py noop serve --data-dir ... (fleet serve's options)

``noop``: one hook on the ingest thread that does nothing: what the dispatch itself costs
(a feature's hook is called after each commit with the rows it stored). The escalation's rows
need no script: ``fleet serve --config`` with rules is the escalation as deployed.

``fleet serve`` builds its ``Ingest()`` itself; this script gives it a registry with the hook
by wrapping the class ``fleet serve`` imports. Everything else is ``fleet serve`` as deployed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def install(kind: str) -> None:
    from fleet import ingest as ingest_module

    if kind != "noop":
        raise SystemExit(f"unknown hooks {kind!r}: noop")
    plain = ingest_module.Ingest

    class HookedIngest(plain):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            registry = ingest_module.default_registry()
            registry.add_hook("noop", lambda rows: None)
            super().__init__(*args, registry=registry, **kwargs)

    ingest_module.Ingest = HookedIngest  # type: ignore[misc]


if __name__ == "__main__":
    install(sys.argv.pop(1))
    from fleet.cli import main

    sys.argv[0] = "fleet"
    main()
