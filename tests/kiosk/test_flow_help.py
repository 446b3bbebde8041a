"""Offering help after a negative response: the flow's phases, walked with an injected clock.

The flow is pure, so every transition is checked here without a screen, a card or a broker;
the main loop's side (the held row on the card, the sync, the broker) is in test_help_app.py
and test_help_end_to_end.py.
"""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import flow
from kiosk.contract.protocol import PROTOCOL_VERSION, HelpUpdate
from kiosk.flow import Asking, Attract, Burst, Contact, Helping, OfferingHelp, ReleaseResponse, SaveResponse, ThankYou
from tests import scenarios
from tests.dummy_clock import FakeClock

PACE = 1.0
CONTACT = Contact(phone="0212 555 01 23", url="https://example.com/iletisim")
#: The default survey's unhappy path: very unhappy, staff, would not recommend.
UNHAPPY = (1, 2, 1)


class Kiosk:
    """Drives the flow as the main loop does: a held save is answered with its uuid at once."""

    def __init__(self, survey, clock, contact=None, link=True):
        self.clock = clock
        self.state, _ = flow.start(survey, clock.now(), contact)
        self.outbox = scenarios.Rows()  # as the outbox keeps them
        self.effects = []
        self.dropped = []
        if link:
            self.send(flow.LinkChanged(True, clock.now()))

    def send(self, event):
        self.state, effects = flow.step(self.state, event)
        self.effects = effects
        self.outbox.apply(effects, self._held, self.clock.now)
        self.dropped += [e.reason for e in effects if isinstance(e, flow.DropHelpUpdate)]
        return effects

    def _held(self, event):
        self.state, effects = flow.step(self.state, event)
        assert effects == []

    @property
    def rows(self):
        return self.outbox.rows

    def press(self, button, after=PACE):
        return self.send(flow.Pressed(button, self.clock.advance(after)))

    def wait(self, seconds):
        return self.send(flow.Tick(self.clock.advance(seconds)))

    def answer(self, *buttons):
        for button in buttons:
            self.press(button)
        return self.wait(flow.last_answer_hold(self.state.survey))

    def hear(self, state, after=0.5, uuid=None, **fields):
        update = HelpUpdate(v=PROTOCOL_VERSION, alert_id=7, response_uuid=uuid or self.uuid, state=state, at=self.clock.wall + after, **fields)
        return self.send(flow.HelpHeard(update, self.clock.advance(after)))

    @property
    def phase(self):
        return self.state.phase

    @property
    def uuid(self):
        """The latest held row's: the response the offer of help is about."""
        return self.outbox.uuids[-1]

    @property
    def record(self):
        return self.outbox.row(self.uuid)


@pytest.fixture
def kiosk(survey, clock):
    return Kiosk(survey, clock)


def test_a_negative_response_is_saved_held_then_help_is_offered(kiosk, survey):
    effects = kiosk.answer(*UNHAPPY)
    # Held since its last answer (for that moment); now held for the answer to the offer.
    (amend,) = [e for e in effects if isinstance(e, flow.AmendResponse)]
    assert amend.held_for == "offer" and amend.uuid == kiosk.uuid
    assert amend.record.negative and amend.record.help_requested is None
    assert not [e for e in effects if isinstance(e, (SaveResponse, ReleaseResponse))], "one row, still held"
    assert kiosk.outbox.held_for == {kiosk.uuid: "offer"}
    assert isinstance(kiosk.phase, OfferingHelp) and kiosk.phase.response_uuid == kiosk.uuid
    assert flow.LightButtons(frozenset({1, 4})) in effects, "only yes (4) and no (1) are lit"


def test_yes_releases_the_response_with_the_request_and_its_press(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    effects = kiosk.press(4, after=2.0)
    (release,) = [e for e in effects if isinstance(e, ReleaseResponse)]
    assert release.uuid == kiosk.uuid and release.record.help_requested is True
    assert release.record.presses == (1, 2, 1, 4), "the yes press is part of the customer's trail"
    assert release.record.press_ms[-1] == round((2 * PACE + flow.last_answer_hold(survey) + 2.0) * 1000)
    assert [a.option for a in release.record.answers] == ["very-unhappy", "staff", "no"], "the answers are the survey's, unchanged"
    assert isinstance(kiosk.phase, Helping) and kiosk.phase.stage == "sending", "nothing promised before the fleet confirms"
    assert kiosk.state.feedback.kind == "chosen" and kiosk.state.feedback.button == 4


def test_no_releases_it_without_a_request_and_says_sorry(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.press(1, after=2.0)
    assert kiosk.record.help_requested is False and kiosk.record.presses == (1, 2, 1, 1)
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.negative and not kiosk.phase.fallback


def test_an_unanswered_offer_ends_after_its_timeout_without_a_request(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.wait(survey.help_offer.timeout_seconds - 0.01)
    assert isinstance(kiosk.phase, OfferingHelp)
    kiosk.wait(0.02)
    assert isinstance(kiosk.phase, Attract) and kiosk.record.help_requested is False


def test_a_press_no_one_could_have_read_is_no_answer_and_a_second_is_a_child(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4, after=0.1)
    assert isinstance(kiosk.phase, OfferingHelp), "too soon to have read the offer"
    kiosk.press(4, after=0.1)
    assert isinstance(kiosk.phase, Burst)
    assert kiosk.record.help_requested is False and kiosk.record.presses == UNHAPPY, "the child's presses are not the customer's"
    kiosk.wait(survey.burst_window_seconds)
    misuse = [r for r in kiosk.rows if r.misuse]
    assert len(misuse) == 1 and misuse[0].presses == (4, 4) and misuse[0].press_ms == (0, 100)


def test_a_button_that_is_neither_yes_nor_no_is_kept_and_hinted(kiosk):
    kiosk.answer(*UNHAPPY)
    effects = kiosk.press(2, after=2.0)
    assert effects == [flow.HintButtons(frozenset({1, 4}))]
    kiosk.press(4)
    assert kiosk.record.presses == (1, 2, 1, 2, 4) and kiosk.record.help_requested is True


@pytest.mark.parametrize(("path", "negative"), [((4, 4), False), ((3, 4), False), ((3, 1), True)], ids=["very-happy", "happy", "half-negative"])
def test_help_is_offered_only_after_a_negative_response(survey, clock, path, negative):
    kiosk = Kiosk(survey, clock)
    kiosk.answer(*path)
    (record,) = kiosk.rows
    assert record.negative == negative
    assert isinstance(kiosk.phase, OfferingHelp if negative else ThankYou)


def test_a_suspect_negative_response_gets_no_offer(kiosk, survey):
    kiosk.press(1)
    kiosk.press(2, after=survey.pause_seconds + 0.5)  # someone else may have stepped up
    kiosk.press(1)
    kiosk.wait(flow.last_answer_hold(survey))
    (record,) = kiosk.rows
    assert record.suspect and not record.negative and isinstance(kiosk.phase, ThankYou)


def test_walking_away_mid_survey_gets_no_offer(kiosk, survey):
    kiosk.press(1)
    kiosk.wait(survey.idle_timeout_seconds)
    (record,) = kiosk.rows
    assert record.status == "abandoned" and record.negative and record.help_requested is None
    assert isinstance(kiosk.phase, Attract)


def test_without_the_link_no_staff_are_offered_and_the_sites_contact_shows(survey, clock):
    kiosk = Kiosk(survey, clock, contact=CONTACT, link=False)
    effects = kiosk.answer(*UNHAPPY)
    assert [type(e) for e in effects if isinstance(e, flow.WRITTEN_AFTER_THE_FRAME + (SaveResponse,))] == [ReleaseResponse]
    assert kiosk.outbox.held == {} and kiosk.rows[0].help_requested is None, "sent: no offer is waiting for an answer"
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.fallback
    kiosk.wait(survey.help_offer.fallback_seconds - 0.01)
    assert isinstance(kiosk.phase, ThankYou), "long enough to note the number or scan the code"
    kiosk.wait(0.02)
    assert isinstance(kiosk.phase, Attract)


def test_without_the_link_or_a_contact_the_usual_sorry_thank_you_shows(survey, clock):
    kiosk = Kiosk(survey, clock, link=False)
    kiosk.answer(*UNHAPPY)
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.negative and not kiosk.phase.fallback


def test_the_link_going_down_withdraws_the_offer(survey, clock):
    kiosk = Kiosk(survey, clock, contact=CONTACT)
    kiosk.answer(*UNHAPPY)
    kiosk.press(3, after=1.0)
    kiosk.send(flow.LinkChanged(False, clock.advance(0.5)))
    assert kiosk.record.help_requested is None and kiosk.record.presses == (1, 2, 1, 3)
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.fallback


def test_no_acknowledgement_in_time_shows_the_call_back_and_the_fleets_wait_counts(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("waiting", wait_s=20.0, callback_url="https://fleet.example/c/abc")
    assert kiosk.phase.call_back_at == kiosk.phase.since + 20.0 and kiosk.phase.alert_id == 7
    kiosk.wait(20.0 - 0.5 - 0.01)
    assert kiosk.phase.stage == "waiting"
    kiosk.wait(0.02)
    assert kiosk.phase.stage == "call_back" and kiosk.phase.callback_url == "https://fleet.example/c/abc"


@pytest.mark.parametrize("callback_url", ["", "https://fleet.example/c/abc"])
def test_when_the_fleet_could_tell_nobody_the_kiosk_shows_what_can_happen_at_once(survey, clock, callback_url):
    """The fleet says ``waiting`` with wait_s 0 when its help alert told nobody: no "staff are
    being told" screen, straight to the call-back QR if the fleet sent one, else the site's own
    phone and QR (the kiosk config's [help])."""
    from kiosk.view import view_of

    kiosk = Kiosk(survey, clock, contact=CONTACT)
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("waiting", wait_s=0.0, callback_url=callback_url)
    assert kiosk.phase.stage == "call_back", "no waiting screen: nobody was told"
    shown = view_of(kiosk.state, clock.now().monotonic).help
    assert shown.stage == "call_back"
    if callback_url:
        assert shown.qr == callback_url and any(CONTACT.phone.replace(" ", "\u00a0") in line for line in shown.lines)
    else:
        assert shown.qr == CONTACT.url, "the site's own page as a QR code"
    kiosk.wait(survey.help_offer.help_seconds)
    assert isinstance(kiosk.phase, Attract), "and it still ends on time"


def test_until_the_fleet_confirms_the_screen_promises_no_one_and_then_says_staff_are_told(kiosk, survey):
    from kiosk.view import view_of

    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.wait(survey.help_offer.confirm_seconds - 0.6)
    shown = view_of(kiosk.state, kiosk.clock.monotonic)
    assert shown.help.stage == "sending" and shown.text == "İsteğiniz iletiliyor…" and "haber" not in shown.text
    kiosk.hear("waiting", wait_s=45.0)  # just in time
    shown = view_of(kiosk.state, kiosk.clock.monotonic)
    assert shown.help.stage == "waiting" and shown.text == "Bir çalışma arkadaşımıza haber verildi…"
    kiosk.wait(kiosk.phase.since + 45.0 - kiosk.clock.monotonic - 0.01)
    assert kiosk.phase.stage == "waiting"
    kiosk.wait(0.02)
    assert kiosk.phase.stage == "call_back", "the site's wait counts from the yes"


@pytest.mark.parametrize(("contact", "words"), [(CONTACT, "Bizi arayın: 0212\u00a0555\u00a001\u00a023"), (None, "Lütfen kasadaki arkadaşımıza söyleyin")])
def test_without_the_fleets_word_in_time_the_link_down_screen_shows_and_is_reported(survey, clock, contact, words):
    from kiosk.view import view_of

    kiosk = Kiosk(survey, clock, contact=contact)
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    yes = kiosk.phase.since
    kiosk.wait(survey.help_offer.confirm_seconds - 0.01)
    assert kiosk.phase.stage == "sending"
    effects = kiosk.wait(0.02)
    assert effects == [flow.HelpNotConfirmed(kiosk.uuid, survey.help_offer.confirm_seconds)], "reported once"
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.fallback and kiosk.phase.shown_at == yes + survey.help_offer.confirm_seconds
    shown = view_of(kiosk.state, clock.monotonic)
    assert shown.text == words and shown.help.stage == "contact"
    kiosk.hear("waiting", wait_s=45.0)  # too late: nobody on screen is waiting for it any more
    assert isinstance(kiosk.phase, ThankYou) and kiosk.dropped == ["its help screen has ended (timed out or closed)"]
    kiosk.press(2, after=survey.handover_seconds)
    assert isinstance(kiosk.phase, Asking), "the next customer starts after the handover, as after the link-down screen"
    assert not [e for e in kiosk.effects if isinstance(e, flow.HelpNotConfirmed)]


def test_an_update_about_another_response_confirms_nothing(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("waiting", uuid="11111111-1111-4111-8111-111111111111")
    assert kiosk.phase.stage == "sending"
    kiosk.wait(survey.help_offer.confirm_seconds)
    assert isinstance(kiosk.phase, ThankYou) and kiosk.phase.fallback


def test_someone_coming_confirms_the_request_too(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("coming", staff="Ayşe")
    kiosk.wait(survey.help_offer.confirm_seconds)
    assert (kiosk.phase.stage, kiosk.phase.staff) == ("coming", "Ayşe")


def test_someone_coming_is_shown_with_their_name_and_eta_even_after_the_call_back(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("waiting", wait_s=20.0)
    kiosk.wait(20.0)
    assert kiosk.phase.stage == "call_back"
    kiosk.hear("coming", staff="Ayşe", eta_minutes=3)
    assert (kiosk.phase.stage, kiosk.phase.staff, kiosk.phase.eta_minutes) == ("coming", "Ayşe", 3)
    kiosk.hear("waiting", wait_s=1.0)  # a late copy of the earlier state must not take it back
    assert kiosk.phase.stage == "coming"


def test_an_older_update_than_the_one_shown_is_dropped(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("coming", staff="Ayşe")
    kiosk.hear("coming", after=0.5, staff="Mehmet", uuid=kiosk.uuid.upper())  # the fleet echoes uuids in any case
    assert kiosk.phase.staff == "Mehmet"
    stale = HelpUpdate(v=PROTOCOL_VERSION, alert_id=7, response_uuid=kiosk.uuid, state="coming", at=1.0, staff="Old")
    kiosk.send(flow.HelpHeard(stale, kiosk.clock.advance(0.1)))
    assert kiosk.phase.staff == "Mehmet" and kiosk.dropped == ["older than the update on screen"]


def test_an_update_about_another_customer_is_dropped_and_said_why(kiosk, survey):
    kiosk.hear("coming", uuid="11111111-1111-4111-8111-111111111111", staff="Ayşe")
    assert isinstance(kiosk.phase, Attract) and "earlier customer" in kiosk.dropped[-1]
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("coming", uuid="11111111-1111-4111-8111-111111111111", staff="Ayşe")
    assert kiosk.phase.stage == "sending" and len(kiosk.dropped) == 2


def test_the_help_screens_end_on_time_and_a_late_update_is_dropped(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.wait(survey.help_offer.help_seconds)
    assert isinstance(kiosk.phase, Attract)
    kiosk.hear("coming", staff="Ayşe")
    assert isinstance(kiosk.phase, Attract) and kiosk.dropped == ["its help screen has ended (timed out or closed)"]


def test_closed_ends_the_help_screen(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("closed")
    assert isinstance(kiosk.phase, Attract)


def test_presses_on_the_help_screens_are_kept_and_change_nothing(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    kiosk.hear("coming", staff="Ayşe")
    before = kiosk.phase
    kiosk.press(4)
    kiosk.press(2, after=0.1)
    assert kiosk.phase == before, "the waiting customer keeps their screen"
    misuse = [r for r in kiosk.rows if r.misuse]
    assert [r.presses for r in misuse] == [(4,), (2,)] and all(r.end_reason == "misuse" for r in misuse)


def test_stopping_during_the_offer_releases_the_response(kiosk):
    kiosk.answer(*UNHAPPY)
    kiosk.send(flow.Shutdown(kiosk.clock.advance(1)))
    assert kiosk.record.help_requested is False


def test_a_new_survey_waits_for_the_help_screens_to_end(kiosk, survey):
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    newer = replace(survey, version=survey.version + 1)
    kiosk.send(flow.SurveyReplaced(newer, kiosk.clock.advance(1)))
    assert kiosk.state.survey is survey
    kiosk.hear("closed")
    assert kiosk.state.survey is newer and kiosk.state.link_up, "the link state outlives a survey change"


# --- properties over random people and a random fleet -------------------------------------------

gaps = st.one_of(st.floats(0.01, 0.35), st.floats(0.35, 3), st.floats(3, 12))
buttons = st.integers(min_value=scenarios.LANGUAGE, max_value=5)
#: Customers who are often unhappy, so that help is offered often.
unhappy_start = st.sampled_from([(1, 2, 1), (2, 1, 1), (1, 4, 4), (4, 1), (3, 4)])
fleet_events = st.lists(st.tuples(st.floats(0, 80), st.sampled_from(["link_up", "link_down", "waiting", "coming", "closed", "stale"])), max_size=12)


@st.composite
def customers(draw):
    """Several customers, each an often-unhappy path, then maybe an answer to the offer and random presses."""
    presses, at = [], 0.0
    for index in range(draw(st.integers(1, 4))):
        at += draw(st.floats(1, 20))
        for button in draw(unhappy_start):
            presses.append(scenarios.Press(round(at, 3), button, f"c{index}"))
            at += draw(st.floats(0.6, 2))
        for gap, button in draw(st.lists(st.tuples(gaps, buttons), max_size=8)):
            at += gap
            presses.append(scenarios.Press(round(at, 3), button, f"c{index}"))
    return presses


def play_with_fleet(survey, presses, events, contact, link_at_start):
    fleet = ([scenarios.Fleet(0.0, "link_up")] if link_at_start else []) + [scenarios.Fleet(round(t, 3), kind) for t, kind in events]
    return scenarios.play(survey, presses, fleet=fleet, contact=contact)


@settings(max_examples=300, deadline=None)
@given(customers(), fleet_events, st.sampled_from([None, CONTACT]), st.booleans())
def test_every_press_ends_up_in_exactly_one_row_whatever_the_fleet_does(survey, presses, events, contact, link_at_start):
    played = play_with_fleet(survey, presses, events, contact, link_at_start)
    assert played.lost == [] and played.unexplained == 0
    assert played.held_at_end == 0, "no row stays held for an answer"


@settings(max_examples=300, deadline=None)
@given(customers(), fleet_events, st.sampled_from([None, CONTACT]), st.booleans())
def test_help_is_offered_only_while_the_link_is_up(survey, presses, events, contact, link_at_start):
    played = play_with_fleet(survey, presses, events, contact, link_at_start)
    assert all(played.offered_with_link)


@settings(max_examples=300, deadline=None)
@given(customers(), fleet_events, st.sampled_from([None, CONTACT]), st.booleans())
def test_help_requested_is_set_only_on_negative_complete_responses(survey, presses, events, contact, link_at_start):
    played = play_with_fleet(survey, presses, events, contact, link_at_start)
    for row in played.rows:
        if row.help_requested is not None:
            assert row.negative and not row.suspect and not row.misuse and row.status == "completed"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.05, 30), st.sampled_from(["press", "waiting", "coming", "stale", "link_down", "link_up"]), st.integers(1, 4)), max_size=20),
    st.integers(1, 4),
)
def test_after_yes_the_next_customer_waits_at_most_help_seconds(survey, happenings, button):
    clock = FakeClock()
    kiosk = Kiosk(survey, clock)
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    since = kiosk.phase.since
    ends = since + survey.help_offer.help_seconds
    confirmed = False
    for gap, what, pressed in happenings:  # whatever the waiting customer and the fleet do …
        if clock.monotonic + gap >= ends:
            break
        if what == "press":
            kiosk.press(pressed, after=gap)
        elif what in ("link_down", "link_up"):
            kiosk.send(flow.LinkChanged(what == "link_up", clock.advance(gap)))
        else:
            confirmed |= what != "stale" and clock.monotonic + gap < since + survey.help_offer.confirm_seconds
            kiosk.hear("waiting" if what == "stale" else what, after=gap, uuid="11111111-1111-4111-8111-111111111111" if what == "stale" else None, staff="Ayşe")
        if not isinstance(kiosk.phase, Helping):  # no word from the fleet in time: the site's contact, then the start
            assert not confirmed and clock.monotonic >= since + survey.help_offer.confirm_seconds
            break
    kiosk.press(button, after=ends - clock.monotonic)  # … the next customer answers when it is over
    assert isinstance(kiosk.phase, Asking) and kiosk.phase.draft.presses == (button,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.7, 3), st.sampled_from([2, 3])), max_size=12), st.integers(1, 4))
def test_an_unanswered_offer_holds_the_next_customer_at_most_its_timeout(survey, presses, button):
    clock = FakeClock()
    kiosk = Kiosk(survey, clock)
    kiosk.answer(*UNHAPPY)
    ends = kiosk.phase.shown_at + survey.help_offer.timeout_seconds
    for gap, pressed in presses:  # neither yes nor no, at a person's pace
        if clock.monotonic + gap >= ends:
            break
        kiosk.press(pressed, after=gap)
        assert isinstance(kiosk.phase, OfferingHelp)
    kiosk.press(button, after=ends - clock.monotonic)
    assert isinstance(kiosk.phase, Asking) and kiosk.phase.draft.presses == (button,)
    assert kiosk.record.help_requested is False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.05, 12), st.sampled_from(["press", "tick", "waiting", "coming", "closed", "stale", "link_down", "link_up"]), st.integers(1, 4)), max_size=25),
    st.sampled_from([None, CONTACT]),
)
def test_staff_are_said_to_be_told_only_after_the_fleet_confirmed_this_request(survey, happenings, contact):
    """Whatever the customer, the link and the fleet do, the "a colleague is being told" screen
    (or "… is on the way") shows only after a HelpUpdate about this very response."""
    from kiosk.view import view_of

    clock = FakeClock()
    kiosk = Kiosk(survey, clock, contact=contact)
    kiosk.answer(*UNHAPPY)
    kiosk.press(4)
    uuid, confirmed = kiosk.uuid, False
    promises = {survey.help_offer.words(key, "tr", **values) for key, values in (("waiting", {}), ("coming", {"staff": "Ayşe"}), ("coming_unnamed", {}))}
    for gap, what, pressed in happenings:
        if what == "press":
            kiosk.press(pressed, after=gap)
        elif what == "tick":
            kiosk.wait(gap)
        elif what in ("link_down", "link_up"):
            kiosk.send(flow.LinkChanged(what == "link_up", clock.advance(gap)))
        else:
            helping_before = isinstance(kiosk.phase, Helping)
            kiosk.hear("waiting" if what == "stale" else what, after=gap, uuid="11111111-1111-4111-8111-111111111111" if what == "stale" else uuid, staff="Ayşe")
            confirmed |= what != "stale" and helping_before and isinstance(kiosk.phase, Helping)
        shown = view_of(kiosk.state, clock.monotonic)
        if not confirmed:
            assert not (shown.help is not None and shown.help.stage in ("waiting", "coming")), shown
            assert shown.text not in promises, shown.text
        if not isinstance(kiosk.phase, Helping):
            break
