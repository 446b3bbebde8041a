"""``fleet serve`` with post-commit hooks registered: the server of bench_fleet.py's (b+h) rows.

    python benchmarks/hooked_serve.py KIND serve --data-dir ... (fleet serve's options)

``noop``: one hook on the ingest thread that does nothing (the cost of the dispatch itself).
``escalation``: the escalation as the composition root wires it: ``escalation_hook`` behind a
``HookWorker`` (its own thread), the ``EscalationWorker`` ticking and sending (to a closed local
port: every notification fails and is retried, as a webhook that is down), the bundled example
rules (help, cleanliness, the 50 %/15 min/4 window, offline, health) on every site. Its first
tick runs before ingest starts (the idle benchmark kiosks raise their offline alerts then, as
a fleet's first tick does at start), so the rounds measure the steady state.
``escalation-store-windows``: the same, its windows counted the previous way, a read of each
whole window in the store per count (``windows.StoreWindows``): the "before" of the tallies.
``escalation-no-window``: the same without the window rule: what the hook costs apart from
counting windows.

``fleet serve`` builds its ``Ingest()`` itself; until the composition root (``fleet/app``)
registers hooks from the fleet's config, this script gives it a registry with the hooks by
wrapping the class ``fleet serve`` imports. Everything else is ``fleet serve`` as deployed.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def install(kind: str) -> None:
    from fleet import ingest as ingest_module
    from fleet.dispatch import HookWorker

    plain = ingest_module.Ingest

    class HookedIngest(plain):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            registry = ingest_module.default_registry()
            if kind == "noop":
                registry.add_hook("noop", lambda rows: None)
            elif kind in KINDS:  # made here, inside `fleet serve`: the store is open now
                registry.add_hook("escalation", _escalation(HookWorker, kind))
            else:
                raise SystemExit(f"unknown hooks {kind!r}: noop, {', '.join(KINDS)}")
            super().__init__(*args, registry=registry, **kwargs)

    ingest_module.Ingest = HookedIngest  # type: ignore[misc]


KINDS = ("escalation", "escalation-store-windows", "escalation-no-window")


def _escalation(hook_worker: type, kind: str) -> object:
    import msgspec
    from bench_escalation import config  # benchmarks/, beside this script

    from fleet.escalation.config import WindowRule
    from fleet.escalation.hook import escalation_hook
    from fleet.escalation.service import Escalation
    from fleet.escalation.windows import StoreWindows
    from fleet.escalation.worker import EscalationWorker

    settings = config()
    if kind == "escalation-no-window":
        settings = msgspec.structs.replace(settings, rules=[rule for rule in settings.rules if not isinstance(rule, WindowRule)])
    worker = EscalationWorker(None, settings.notifications, lanes=settings.notifications.senders)
    windows = StoreWindows() if kind == "escalation-store-windows" else None  # None: the service's own (tallies)
    escalation = Escalation(settings, b"k" * 32, wake=worker.wake, windows=windows)
    escalation.tick()
    worker.escalation = escalation
    worker.start()
    hook = hook_worker("escalation", escalation_hook(escalation)).start()
    atexit.register(worker.stop)
    atexit.register(hook.stop)  # runs first: what ingest queued is handled, then the worker stops
    return hook


if __name__ == "__main__":
    install(sys.argv.pop(1))
    from fleet.cli import main

    sys.argv[0] = "fleet"
    main()
