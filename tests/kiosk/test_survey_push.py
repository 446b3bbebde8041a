"""The kiosk's part of survey push (kiosk/survey_push.py) on real files: the decision, the atomic
store, the durable report queue, the start after a kill, the config's trusted keys, ``kiosk survey``.

The whole process with a broker: tests/test_survey_push_end_to_end.py.
"""

from __future__ import annotations

import json
import os
import tomllib

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk import survey_push as push
from kiosk.cli import main
from kiosk.config import ConfigError, load_config
from kiosk.contract import assignment as signing
from kiosk.contract.protocol import encode
from kiosk.contract.survey import DEFAULT_SURVEY_PATH, load_survey, survey_from_dict
from tests.dummy_clock import FakeClock

DEVICE = "kiosk-1"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEYS = signing.trusted_keys([signing.public_key_text(signing.raw_public_key(KEY))])
FOUR = frozenset({1, 2, 3, 4})
DEFAULT = tomllib.loads(DEFAULT_SURVEY_PATH.read_text(encoding="utf-8"))


def document(version: int = 4, five: bool = False) -> dict:
    body = json.loads(json.dumps(DEFAULT)) | {"version": version}
    if five:
        body["questions"][0]["options"].append({"id": "superb", "button": 5, "label": {"tr": "Harika", "en": "Superb"}})
    return body


def assignment(seq: int = 3, version: int = 4, five: bool = False, target: str = DEVICE):
    body = document(version, five)
    return signing.sign(KEY, survey_id=body["id"], version=version, rollout=2, seq=seq, target=target, document=signing.canonical_document(body), issued_at=1_790_000_000.0)


def fallback() -> push.ActiveSurvey:
    return push.ActiveSurvey(load_survey(DEFAULT_SURVEY_PATH), "default")


# --- the decision ---------------------------------------------------------------------------------


def test_a_good_assignment_is_accepted_and_the_one_held_is_no_news():
    given = assignment()
    accepted = push.consider(encode(given), None, KEYS, DEVICE, FOUR)
    assert isinstance(accepted, push.Accept) and accepted.survey.version == 4
    assert push.consider(encode(given), given, KEYS, DEVICE, FOUR) == push.AlreadyHave(given)


def test_a_survey_needing_a_button_the_panel_lacks_is_refused_with_where():
    refused = push.consider(encode(assignment(five=True)), None, KEYS, DEVICE, FOUR, "panel profile 'arcade-4'")
    assert refused == push.Refuse(
        "question \"satisfaction\" needs button 5 (5 options), but panel profile 'arcade-4' has buttons 1, 2, 3, 4: the survey cannot be answered here", refused.assignment
    )
    assert isinstance(push.consider(encode(assignment(five=True)), None, KEYS, DEVICE, frozenset(range(1, 6))), push.Accept), "a 5-button panel takes it"


def test_a_help_offer_on_a_missing_button_is_refused():
    survey = survey_from_dict(document())
    assert push.panel_problem(survey, frozenset({1, 2, 3}), "this panel") == 'question "satisfaction" needs button 4 (4 options), but this panel has buttons 1, 2, 3: the survey cannot be answered here'


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "not a survey assignment: "),
        (b"[]", "not a survey assignment: "),
        (encode(assignment(seq=2)), "replayed: sequence 2 ≤ last accepted 3"),
        (encode(assignment(target="kiosk-2")), "meant for kiosk-2, not kiosk-1"),
    ],
)
def test_what_is_refused_says_why(payload, reason):
    refused = push.consider(payload, assignment(seq=3, version=3), KEYS, DEVICE, FOUR)
    assert isinstance(refused, push.Refuse) and refused.reason.startswith(reason)


# --- the card ---------------------------------------------------------------------------------------


def test_the_store_writes_whole_files_and_leaves_no_temporary_one(tmp_path):
    store = push.SurveyStore(tmp_path)
    assert store.saved() is None and store.applied_seq() == 0
    given = assignment()
    store.save(given)
    store.mark_applied(given.seq)
    assert push.SurveyStore(tmp_path).saved() == given and push.SurveyStore(tmp_path).applied_seq() == 3
    assert sorted(p.name for p in (tmp_path / "survey").iterdir()) == ["applied.json", "assignment.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    store = push.SurveyStore(tmp_path)
    store.save(assignment(seq=3))

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        store.save(assignment(seq=4))
    monkeypatch.undo()
    assert store.saved().seq == 3, "the old assignment whole"
    assert sorted(p.name for p in (tmp_path / "survey").iterdir()) == ["assignment.json"], "no temporary file left"


def test_a_corrupt_saved_assignment_is_logged_and_the_default_shows(tmp_path, caplog):
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "assignment.json").write_bytes(b'{"v":2,"seq":')
    active, reports = push.at_start(push.SurveyStore(tmp_path), fallback(), KEYS, DEVICE, FOUR, "panel", 1.0)
    assert active.source == "default" and reports == []
    assert "the saved pushed survey cannot be read" in caplog.text


def test_reports_wait_on_the_card_until_sent(tmp_path):
    queue = push.ReportQueue(tmp_path)
    first, second = (push.report(DEVICE, assignment(), status, "", 5.0) for status in ("delivered", "applied"))
    queue.add(first)
    queue.add(second)
    assert push.ReportQueue(tmp_path).pending() == [first, second], "another process (a restart) reads them"
    queue.sent([first])
    assert push.ReportQueue(tmp_path).pending() == [second]


def test_a_report_without_an_assignment_names_none():
    made = push.report(DEVICE, None, "refused", "x" * 600, 5.0)
    assert (made.rollout, made.seq, made.survey_id, len(made.reason)) == (0, 0, "", 500)


# --- start and while running ------------------------------------------------------------------------


def test_killed_after_delivered_the_start_applies_it_and_reports_it_once(tmp_path):
    store = push.SurveyStore(tmp_path)
    store.save(assignment(seq=3))  # delivered, then SIGKILL before it reached the screen
    active, reports = push.at_start(store, fallback(), KEYS, DEVICE, FOUR, "panel", 7.0)
    assert (active.source, active.verified, active.survey.version, active.assignment.seq) == ("pushed", True, 4, 3)
    assert [(r.status, r.seq) for r in reports] == [("applied", 3)]
    again, more = push.at_start(store, fallback(), KEYS, DEVICE, FOUR, "panel", 8.0)
    assert again.source == "pushed" and more == [], "reported once"


def test_a_saved_survey_whose_key_was_rotated_out_is_refused_at_start(tmp_path):
    store = push.SurveyStore(tmp_path)
    store.save(assignment())
    active, reports = push.at_start(store, fallback(), {}, DEVICE, FOUR, "panel", 7.0)
    assert active.source == "default"
    assert [(r.status, r.reason) for r in reports] == [("refused", f"saved survey refused at start: unknown key {signing.key_id(signing.raw_public_key(KEY))}")]


def test_a_technicians_file_wins_over_a_pushed_survey(tmp_path):
    store = push.SurveyStore(tmp_path)
    store.save(assignment())
    file = push.ActiveSurvey(load_survey(DEFAULT_SURVEY_PATH), "file")
    active, reports = push.at_start(store, file, KEYS, DEVICE, FOUR, "panel", 7.0)
    assert active is file and reports == []
    running = push.SurveyPush(store, push.ReportQueue(tmp_path), KEYS, DEVICE, FOUR, "panel", file)
    assert running.received(encode(assignment(seq=9)), FakeClock().now()) is None, "saved, not shown"
    (delivered,) = push.ReportQueue(tmp_path).pending()
    assert delivered.status == "delivered" and "technician's survey file overrides" in delivered.reason
    assert store.saved().seq == 9


def test_while_running_delivered_then_applied_when_the_flow_shows_it(tmp_path):
    store, queue, clock = push.SurveyStore(tmp_path), push.ReportQueue(tmp_path), FakeClock()
    woken, shown, order = [], [], []
    running = push.SurveyPush(
        store, queue, KEYS, DEVICE, FOUR, "panel", fallback(),
        on_report=lambda: (woken.append(1), order.append("report")), on_active=lambda active: (shown.append(active), order.append("active")),
    )
    survey = running.received(encode(assignment(seq=3)), clock.now())
    assert survey is not None and [r.status for r in queue.pending()] == ["delivered"] and store.saved().seq == 3
    assert store.applied_seq() == 0, "delivered is not applied"
    assert running.received(encode(assignment(seq=3)), clock.now()) is None and len(queue.pending()) == 1, "the retained copy again: no news"
    running.applied(survey, clock.now())
    assert [r.status for r in queue.pending()] == ["delivered", "applied"] and store.applied_seq() == 3 and len(woken) == 2
    assert shown[-1].source == "pushed" and shown[-1].verified
    assert order == ["report", "active", "report"], "Health learns the new survey before the applied report wakes the sync (which then sends Health)"
    assert running.received(encode(assignment(seq=2, version=9)), clock.now()) is None
    assert queue.pending()[-1].reason == "replayed: sequence 2 ≤ last accepted 3"


# --- config and kiosk survey ------------------------------------------------------------------------


def test_trusted_keys_are_checked_with_the_config_every_error_at_once(tmp_path):
    config = tmp_path / "kiosk.toml"
    good = signing.public_key_text(signing.raw_public_key(KEY))
    config.write_text(f'[survey]\ntrusted_keys = ["{good}", "rsa:AAAA", "ed25519:xx", "{good}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    text = str(error.value)
    assert "survey.trusted_keys[2]: public key 'rsa:AAAA' does not start with 'ed25519:'" in text
    assert "survey.trusted_keys[3]: public key 'ed25519:xx' is not valid base64" in text
    assert "a key is listed twice" in text and text.count("fix:") == 3


def test_the_survey_file_is_read_under_either_spelling(tmp_path):
    old = tmp_path / "old.toml"
    old.write_text('survey = "/etc/nabiz/survey.toml"\n', encoding="utf-8")
    new = tmp_path / "new.toml"
    new.write_text('[survey]\nfile = "/etc/nabiz/survey.toml"\n', encoding="utf-8")
    assert load_config(old).survey_file == load_config(new).survey_file == "/etc/nabiz/survey.toml"
    assert load_config(old).trusted_keys == []


def test_kiosk_survey_shows_the_active_survey_where_from_and_whether_verified(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'device_id = "{DEVICE}"\n[survey]\ntrusted_keys = ["{signing.public_key_text(signing.raw_public_key(KEY))}"]\n', encoding="utf-8")
    runner = CliRunner()
    before = runner.invoke(main, ["survey", "--data-dir", str(data), "--config", str(config)])
    assert before.exit_code == 0, before.output
    assert "survey:   exit-default version 3" in before.output and "source:   default" in before.output and "verified: no" in before.output
    push.SurveyStore(data).save(assignment())
    after = runner.invoke(main, ["survey", "--data-dir", str(data), "--config", str(config)])
    assert after.exit_code == 0, after.output
    key = signing.key_id(signing.raw_public_key(KEY))
    assert "survey:   exit-default version 4" in after.output
    assert f"source:   pushed by head office (rollout 2, seq 3, key {key}, signed 2026-" in after.output
    assert f"verified: yes: signed by a trusted key, for {DEVICE}" in after.output
    print(after.output)


def test_min_seq_refuses_an_older_assignment_before_any_is_held_and_is_checked_with_the_config(tmp_path):
    """A freshly imaged kiosk holds nothing: ``[survey] min_seq`` (the fleet writes it) is its floor."""
    refused = push.consider(encode(assignment(seq=3)), None, KEYS, DEVICE, FOUR, min_seq=3)
    assert refused == push.Refuse("replayed: sequence 3 ≤ 3, the lowest this kiosk's config accepts ([survey] min_seq)", refused.assignment)
    assert isinstance(push.consider(encode(assignment(seq=4)), None, KEYS, DEVICE, FOUR, min_seq=3), push.Accept)
    forged = assignment(seq=1).__class__(**{**{f: getattr(assignment(seq=1), f) for f in assignment().__struct_fields__}, "signature": "A" * 88})
    assert push.consider(encode(forged), None, KEYS, DEVICE, FOUR, min_seq=3).reason == "bad signature (tampered?)", "the signature is checked first"
    path = tmp_path / "kiosk.toml"
    path.write_text('device_id = "kiosk-1"\n[survey]\nmin_seq = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="min_seq"):
        load_config(path)
