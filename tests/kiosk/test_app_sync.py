"""The main loop's side of the fleet sync: it only tells the sync when answers reach the card."""

from __future__ import annotations

from pathlib import Path

from hardware.panel import ButtonPress
from hardware.scripted import ScriptedPanel
from kiosk import flow
from kiosk import outbox as outbox_module
from kiosk.app import Kiosk, Stamped
from kiosk.outbox import Outbox
from kiosk.screen import Screen
from tests.kiosk.test_outbox import record


def test_answers_the_full_disk_held_back_wake_the_sync_when_written(profile, survey, clock, tmp_path):
    woken = []
    screen = Screen(profile, (800, 480), "headless")
    outbox = Outbox("kiosk-1", "boot").open(tmp_path)
    try:
        kiosk = Kiosk(survey, screen, ScriptedPanel(profile, []), outbox, clock, Path(tmp_path), on_saved=lambda: woken.append(outbox.health().unsent))
        db = outbox_module.database
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        db.execute_sql(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL soon, as on a full card
        while not outbox.unsaved:  # earlier customers fill the last free space
            outbox.save(record(answers=3))
        before = outbox.health().unsent
        for button in (3, 4):  # a happy customer, recommends: the response completes
            kiosk.handle(Stamped(ButtonPress(button), clock.advance(1)))
        clock.advance(flow.last_answer_hold(survey))
        kiosk.tick()  # and is saved, before "thank you" shows
        assert outbox.unsaved >= 2 and woken == [before], "told, but its answer is not on the card yet"
        waiting = outbox.unsaved
        db.execute_sql("PRAGMA max_page_count = 1073741823")  # space again
        clock.advance(1)
        kiosk.tick()
        assert outbox.unsaved == 0 and woken == [before, before + waiting], "written now, and the sync is woken to send them"
    finally:
        outbox.close()
        screen.close()
