"""Versions and rollouts in the store (SQLite and PostgreSQL): what push, reports and Health do."""

from __future__ import annotations

import json

import pytest

from fleet import devices
from fleet.surveys import rollouts, versions
from fleet.surveys.planner import advance
from fleet.surveys.tables import Assignment, Rollout
from kiosk.contract.assignment import trusted_keys, verify
from kiosk.contract.protocol import PROTOCOL_VERSION, SurveyReport, decode
from tests.fleet.surveys.conftest import survey_file


@pytest.fixture
def fleet_with_surveys(store, tmp_path):
    for device_id, site in (("kiosk-a1", "Ankara"), ("kiosk-a2", "Ankara"), ("kiosk-i1", "İstanbul Kadıköy")):
        devices.add_device(device_id, site)
    versions.add(survey_file(tmp_path, 3, "Görüşünüz bizim için değerli"))
    versions.add(survey_file(tmp_path, 4))
    return tmp_path


def report(device_id: str, seq: int, status: str, reason: str = "") -> SurveyReport:
    return SurveyReport(v=PROTOCOL_VERSION, device_id=device_id, rollout=1, seq=seq, survey_id="exit-default", version=4, status=status, reason=reason, at=1.0)  # type: ignore[arg-type]


def test_add_is_immutable_and_the_same_content_is_a_no_op(fleet_with_surveys):
    again = versions.add(survey_file(fleet_with_surveys, 4))
    assert not again.new
    with pytest.raises(versions.VersionError, match="already stored with other content"):
        versions.add(survey_file(fleet_with_surveys, 4, "Başka bir karşılama"))
    assert [v.version for v in versions.all_versions()] == [3, 4]
    diff = versions.diff("exit-default", 3, 4).splitlines()
    assert diff[:2] == ["--- exit-default v3", "+++ exit-default v4"]
    assert '-    "tr": "Görüşünüz bizim için değerli"' in diff and '+    "tr": "Fikriniz bizim için önemli"' in diff


def test_a_document_the_kiosk_would_refuse_is_refused_with_its_reason(store, tmp_path):
    bad = survey_file(tmp_path, 5).read_text(encoding="utf-8").replace('languages = ["tr", "en"]', 'languages = ["tr", "EN"]')
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(versions.VersionError) as caught:
        versions.add(path)
    assert "bad.toml" in str(caught.value) and "fix:" in str(caught.value)
    assert versions.all_versions() == []


def test_a_document_over_the_payload_limit_is_refused_at_add(store, tmp_path):
    text = survey_file(tmp_path, 5).read_text(encoding="utf-8").replace('en = "Your opinion matters to us"', 'en = "' + "ş" * 140_000 + '"', 1)
    path = tmp_path / "huge.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(versions.VersionError, match="payload limit"):
        versions.add(path)


def test_push_signs_one_assignment_per_device_with_new_increasing_seqs(fleet_with_surveys, signing_key):
    first = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("site:Ankara")), signing_key)
    second = rollouts.push(rollouts.PushRequest("exit-default", 3, rollouts.parse_target("all"), kind="rollback"), signing_key)
    assert first.devices == 2 and second.devices == 3
    assert list(second.seqs)[0] > list(first.seqs)[-1]
    keys = trusted_keys([signing_key.public_text])
    payloads = rollouts.payloads(second.rollout, ["kiosk-a1", "kiosk-a2", "kiosk-i1"])
    for row in Assignment.select().where(Assignment.rollout == second.rollout.id):
        assignment = decode("survey", payloads[row.device_id].encode())
        assert verify(assignment, keys, row.device_id, 0).accepted
        assert not verify(assignment, keys, "kiosk-zz", 0).accepted  # meant for one kiosk only
    # The newer rollout took the devices of the older one: their unfinished assignments are cancelled.
    assert {a.status for a in Assignment.select().where(Assignment.rollout == first.rollout.id)} == {"cancelled"}
    assert second.superseded == 2


def test_reports_move_devices_forward_only(fleet_with_surveys, signing_key, store):
    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("device:kiosk-a1,kiosk-i1")), signing_key)
    a1, i1 = list(pushed.seqs)
    with store.atomic():
        assert rollouts.record_reports([report("kiosk-a1", a1, "delivered"), report("kiosk-a1", a1, "applied"), report("kiosk-i1", i1, "refused", "buttons 5 not on this panel")]) == 3
        assert rollouts.record_reports([report("kiosk-a1", a1, "delivered"), report("kiosk-i1", i1, "applied")]) == 0  # late, final
        assert rollouts.record_reports([report("kiosk-a2", a1, "applied")]) == 0  # another device's seq
    state = rollouts.status(pushed.rollout.id, with_devices=True)
    assert state.counts["applied"] == 1 and state.counts["refused"] == 1
    assert state.problems == [{"device": "kiosk-i1", "status": "refused", "reason": "buttons 5 not on this panel"}]
    assert json.loads(json.dumps(state.as_dict()))["device_states"][0]["desired"] == "exit-default@4"  # as `fleet device list` writes it


def test_a_batch_of_reports_ends_where_advance_report_by_report_ends(fleet_with_surveys, signing_key, store):
    """record_reports folds a batch into a few statements: each device must still end in the state,
    reason and source, and the count of moves, that ``advance`` gives report by report, in order."""
    import random

    for n in range(40):
        devices.add_device(f"kiosk-b{n:02d}", "Bursa")
    rng = random.Random(7)
    statuses = ["delivered", "applied", "refused", "failed"]
    reports = []
    for _ in range(2):  # two rollouts: the same devices, told apart by seq
        pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("site:Bursa")), signing_key)
        seqs = dict(Assignment.select(Assignment.device_id, Assignment.seq).where(Assignment.rollout == pushed.rollout.id).tuples())
        for _ in range(120):
            device = rng.choice(sorted(seqs))
            status = rng.choice(statuses)
            sender = device if rng.random() > 0.1 else "kiosk-a1"  # now and then another device's seq
            reports.append(report(sender, seqs[device], status, f"{status} on {device}: ş ğ İ" if status in ("refused", "failed") else ""))
    # The reference: planner.advance applied report by report, in order, to what the store holds.
    devices_of = dict(Assignment.select(Assignment.seq, Assignment.device_id).tuples())
    model = {seq: [status, reason, source] for seq, status, reason, source in Assignment.select(Assignment.seq, Assignment.status, Assignment.reason, Assignment.source).tuples()}
    moves = 0
    for r in reports:
        if devices_of.get(r.seq) != r.device_id:
            continue
        new = advance(model[r.seq][0], r.status)
        if new is not None:
            model[r.seq], moves = [new, r.reason, "report"], moves + 1
    with store.atomic():
        assert rollouts.record_reports(reports, now=5.0) == moves > 0
    stored = {seq: [status, reason, source] for seq, status, reason, source in Assignment.select(Assignment.seq, Assignment.status, Assignment.reason, Assignment.source).tuples()}
    assert stored == model
    expected = list(model.values())
    assert {status for status, _, _ in expected} >= {"applied", "refused", "failed", "cancelled"}


def test_progress_changes_with_every_report_and_every_sent_mark(fleet_with_surveys, signing_key, store):
    """The rollout service skips the planner while ``progress_of`` stays the same: any move of any
    device must change it."""
    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key)
    a1, a2, i1 = list(pushed.seqs)
    seen = [rollouts.progress_of(pushed.rollout.id)]
    assert seen[0] == (("pending", False, 3),)
    steps = [
        lambda: Assignment.update(published_at=1.0).where(Assignment.seq == a1).execute(),
        lambda: Assignment.update(published_at=1.0).where(Assignment.seq.in_([a2, i1])).execute(),
        lambda: rollouts.record_reports([report("kiosk-a1", a1, "delivered")]),
        lambda: rollouts.record_reports([report("kiosk-a1", a1, "applied")]),
        lambda: rollouts.record_reports([report("kiosk-a2", a2, "delivered")]),
        lambda: rollouts.record_reports([report("kiosk-i1", i1, "refused", "buttons 5 not on this panel")]),
        lambda: rollouts.record_reports([report("kiosk-a2", a2, "applied")]),
    ]
    for step in steps:
        with store.atomic():
            step()
        seen.append(rollouts.progress_of(pushed.rollout.id))
        assert seen[-1] != seen[-2]
    assert seen[-1] == (("applied", True, 2), ("refused", True, 1))


def test_health_showing_the_version_marks_a_published_device_applied(fleet_with_surveys, signing_key, store):
    from fleet.store import Device

    pushed = rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("device:kiosk-a2")), signing_key)
    Device.update(survey_id="exit-default", survey_version=4).where(Device.device_id == "kiosk-a2").execute()
    assert rollouts.reconcile_health() == 0  # not sent yet: Health cannot be about this assignment
    Assignment.update(published_at=1.0).execute()
    assert rollouts.reconcile_health() == 1
    assert Assignment.get(Assignment.rollout == pushed.rollout.id).status == "applied"


def test_a_new_device_at_a_site_gets_the_sites_current_survey(fleet_with_surveys, signing_key):
    rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("site:Ankara")), signing_key)
    devices.add_device("kiosk-a3", "Ankara")
    current = rollouts.site_survey("Ankara", besides="kiosk-a3")
    assert (current.survey_id, current.version) == ("exit-default", 4)
    pushed = rollouts.assign_new_device("kiosk-a3", current, signing_key)
    assert pushed.rollout.kind == "new-device" and pushed.devices == 1
    assert rollouts.site_survey("İstanbul Kadıköy", besides="kiosk-x") is None


@pytest.mark.parametrize(
    ("target", "message"),
    [("site:Nowhere", "no devices at site 'Nowhere'"), ("device:kiosk-zz", "unknown device"), ("device:Bad Id", "must be 1-64"), ("sites:Ankara", "not all, site:SITE")],
)
def test_bad_targets_change_nothing(fleet_with_surveys, signing_key, target, message):
    with pytest.raises(rollouts.RolloutError, match=message):
        rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target(target)), signing_key)
    assert Rollout.select().count() == 0 and Assignment.select().count() == 0


def test_a_revoked_device_is_never_a_target(fleet_with_surveys, signing_key):
    devices.revoke_device("kiosk-a2")
    assert rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("all")), signing_key).devices == 2
    with pytest.raises(rollouts.RolloutError, match="revoked"):
        rollouts.push(rollouts.PushRequest("exit-default", 4, rollouts.parse_target("device:kiosk-a2")), signing_key)


@pytest.mark.parametrize(("text", "problem"), [("1,10,50", "the last 100"), ("50,10,100", "ascending"), ("a,b", "not a list")])
def test_bad_waves(text, problem):
    with pytest.raises(rollouts.RolloutError, match=problem):
        rollouts.parse_waves(text)


def test_rates_and_times():
    assert rollouts.parse_rate("100/min") == 100 and rollouts.parse_rate("2/s") == 120
    with pytest.raises(rollouts.RolloutError):
        rollouts.parse_rate("fast")
    assert rollouts.parse_at("+30m", now=1000.0) == 2800.0
    with pytest.raises(rollouts.RolloutError, match="in the past"):
        rollouts.parse_at("2020-01-01", now=2_000_000_000.0)
