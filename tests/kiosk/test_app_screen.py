"""The kiosk's main loop and its screen: while the chosen card is showing, the loop paints the next
screen ahead, and drawing it when due is a copy that looks exactly like a fresh paint."""

from hardware.panel import ButtonPress
from hardware.scripted import ScriptedPanel
from kiosk import flow
from kiosk.app import Kiosk, Stamped
from kiosk.outbox import Outbox
from kiosk.screen import Screen
from kiosk.view import view_of
from tests.pixels import Image


def test_the_next_screen_is_painted_ahead_and_shown_when_due(survey, profile, clock, tmp_path):
    screen = Screen(profile, (800, 480), "headless")
    outbox = Outbox("test-kiosk", "boot").open(tmp_path / "data")
    try:
        kiosk = Kiosk(survey, screen, ScriptedPanel(profile, []), outbox, clock, tmp_path)
        kiosk.handle(Stamped(ButtonPress(3), clock.advance(2)))  # "good": the recommend question is next
        assert screen.shown.chosen_button == 3
        kiosk.prepare_next_screen()
        clock.advance(survey.feedback_seconds + 0.01)
        expected = view_of(flow.step(kiosk.state, flow.Tick(clock.now()))[0], clock.monotonic)
        assert expected.kind == "question" and expected.text == survey.question("recommend").text["tr"]
        kiosk.tick()
        assert screen.shown == expected
        assert screen.copied and screen.repainted == [(0, 0, 800, 480)], "shown by copying what was painted ahead"
        ahead = Image.load(screen.save(tmp_path / "ahead.png"))
        screen.show(expected, force=True)
        assert ahead == Image.load(screen.save(tmp_path / "fresh.png"))
    finally:
        outbox.close()
        screen.close()
