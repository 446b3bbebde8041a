"""The main loop's side of saving a complete response: on the card (held) right after the frame
that highlights the last answer, released right after the thank-you frame. So no frame waits for
the card's fsync, and nothing thanks the customer before their response is on the card.

Real parts: the Kiosk, its headless pygame screen and a real SQLite outbox. The outbox is
wrapped only to note how many frames had been drawn when each write reached it."""

from hardware.panel import ButtonPress
from hardware.scripted import ScriptedPanel
from kiosk import flow
from kiosk.app import Kiosk, LinkState, Stamped
from kiosk.outbox import Outbox
from kiosk.screen import Screen


class NotingOutbox(Outbox):
    """The real outbox, noting (write, frames drawn so far) for each write."""

    screen: Screen

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes = []

    def save(self, record, held=False):
        self.writes.append(("save", held, self.screen.frames))
        return super().save(record, held)

    def amend(self, uuid, record, held):
        self.writes.append(("amend", held, self.screen.frames))
        return super().amend(uuid, record, held)

    def release(self, uuid, record):
        self.writes.append(("release", None, self.screen.frames))
        return super().release(uuid, record)


def kiosk_with(survey, profile, clock, tmp_path):
    screen = Screen(profile, (800, 480), "headless")
    outbox = NotingOutbox("kiosk-1", "boot").open(tmp_path / "data")
    outbox.screen = screen
    return Kiosk(survey, screen, ScriptedPanel(profile, []), outbox, clock, tmp_path), screen, outbox


def test_the_response_is_on_the_card_after_the_last_answers_frame_and_before_its_thank_you(survey, profile, clock, tmp_path):
    kiosk, screen, outbox = kiosk_with(survey, profile, clock, tmp_path)
    try:
        kiosk.handle(Stamped(ButtonPress(3), clock.advance(2)))
        frames = screen.frames
        kiosk.handle(Stamped(ButtonPress(4), clock.advance(2)))  # the last answer
        assert screen.frames == frames + 1 and screen.shown.chosen_button == 4
        assert outbox.writes == [("save", "moment", frames + 1)], "written once its frame was drawn, in the same step"
        assert [row["status"] for row in outbox.responses()] == ["completed"] and outbox.pending(0, 10) == [], "on the card, held"
        clock.advance(flow.last_answer_hold(survey) + 0.001)
        kiosk.tick()
        assert screen.shown.kind == "thank_you"
        assert outbox.writes[-1] == ("release", None, frames + 2), "released after the thank-you frame"
        ((_, row),) = outbox.pending(0, 10)
        assert row["presses"] == [3, 4] and row["help_requested"] is None
    finally:
        outbox.close()
        screen.close()


def test_a_childs_burst_after_the_last_answer_makes_the_held_row_misuse_at_once(survey, profile, clock, tmp_path):
    kiosk, screen, outbox = kiosk_with(survey, profile, clock, tmp_path)
    try:
        kiosk.handle(Stamped(ButtonPress(1), clock.advance(2)))
        kiosk.handle(Stamped(ButtonPress(2), clock.advance(2)))
        kiosk.handle(Stamped(ButtonPress(1), clock.advance(2)))  # a negative response, held
        for _ in range(survey.burst_presses):
            kiosk.handle(Stamped(ButtonPress(4), clock.advance(0.1)))
        assert isinstance(kiosk.state.phase, flow.Burst)
        (row,) = outbox.responses()
        assert row["misuse"] and not row["negative"] and row["status"] == "abandoned", "on the card as misuse while the child goes on"
        assert outbox.pending(0, 10) == []
        clock.advance(survey.burst_window_seconds + 0.01)
        kiosk.tick()
        ((_, row),) = outbox.pending(0, 10)
        assert row["misuse"] and row["end_reason"] == "burst" and row["presses"] == [1, 2, 1, 4, 4, 4, 4]
        assert [kind for kind, _, _ in outbox.writes] == ["save", "amend", "release"], "one row, from the last answer to the burst's end"
    finally:
        outbox.close()
        screen.close()


def test_the_offer_of_help_shows_over_the_held_row_and_yes_is_written_after_its_frame(survey, profile, clock, tmp_path):
    kiosk, screen, outbox = kiosk_with(survey, profile, clock, tmp_path)
    try:
        kiosk.handle(Stamped(LinkState(True), clock.now()))
        for button in (1, 2, 1):
            kiosk.handle(Stamped(ButtonPress(button), clock.advance(2)))
        clock.advance(flow.last_answer_hold(survey) + 0.001)
        kiosk.tick()
        assert screen.shown.kind == "help_offer" and outbox.writes[-1][:2] == ("amend", "offer")
        frames = screen.frames
        kiosk.handle(Stamped(ButtonPress(survey.help_offer.yes_button), clock.advance(2)))
        assert outbox.writes[-1] == ("release", None, frames + 1), "the answer is written right after the frame that rings it"
        ((_, row),) = outbox.urgent(10)
        assert row["help_requested"] is True and row["presses"] == [1, 2, 1, survey.help_offer.yes_button]
        assert outbox.health().rows == 1
    finally:
        outbox.close()
        screen.close()
