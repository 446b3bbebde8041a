"""The rollout service's MQTT edge against the fleet's real managed Mosquitto: a sliding window of
publishes, marks in batches, each device marked once and only after the broker took it."""

from __future__ import annotations

from fleet.dynsec import FLEET_USER
from fleet.link import BrokerURL
from fleet.surveys.service import SurveyPublisher
from kiosk.contract.protocol import topic
from tests.mqtt_helpers import Client, add_device_login


def test_every_device_is_marked_once_in_batches_and_the_broker_retains_each(broker):
    publisher = SurveyPublisher(BrokerURL("127.0.0.1", broker.port, FLEET_USER, broker.files.fleet_password(), False), window=20)
    publisher.start()
    try:
        assert publisher.connected.wait(10), "the survey service's login was refused"
        devices = [f"kiosk-{n:03d}" for n in range(150)]
        marks: list[list[str]] = []
        assert publisher.publish(((d, f'{{"for": "{d}"}}') for d in devices), lambda ids: marks.append(list(ids))) == 150
    finally:
        publisher.stop()
    marked = [d for batch in marks for d in batch]
    assert sorted(marked) == devices  # each once: none skipped, none twice
    assert len(marks) < 150  # in batches (one statement per 500 or per 0.1 s), not one per device
    # Marked means the broker has it: retained on the device's own topic, as its kiosk reads it.
    for device_id in (devices[0], devices[75], devices[-1]):
        reader = Client(broker.port, device_id, add_device_login(broker, device_id), client_id=device_id).connect()
        try:
            reader.subscribe(topic(device_id, "survey"))
            message = reader.get(timeout=5)
            assert (message.topic, message.payload, message.retain) == (topic(device_id, "survey"), f'{{"for": "{device_id}"}}'.encode(), True)
        finally:
            reader.close()


def test_nothing_is_marked_when_the_link_is_down(broker):
    publisher = SurveyPublisher(BrokerURL("127.0.0.1", broker.port, FLEET_USER, "not the password", False))
    publisher.start()
    try:
        marks: list[list[str]] = []
        assert publisher.publish([("kiosk-1", "{}")], marks.append) == 0
        assert marks == []
    finally:
        publisher.stop()
