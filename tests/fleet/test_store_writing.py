"""Two writers at once: one that read before it wrote must wait its turn, never fail.

Found by a CI run: `fleet survey push` (reads the devices, then writes the rollout) failed with
"database is locked" while `fleet serve` was storing responses. On SQLite a deferred
transaction that has read holds a snapshot; when another connection commits meanwhile, its
first write cannot upgrade and fails at once (the busy timeout does not apply). Every
transaction that writes goes through ``fleet.store.writing`` (BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

import threading

import peewee

from fleet.store import Device, database, writing


def _device(device_id: str) -> Device:
    return Device.create(device_id=device_id, site="Kadıköy", password_hash="-", created_at=1.0)


def test_a_transaction_that_read_first_waits_for_another_writer_instead_of_failing(store):
    _device("kiosk-0")
    read_done = threading.Event()
    other_committed = threading.Event()
    failures: list[BaseException] = []

    def reader_then_writer() -> None:
        try:
            with writing():
                assert Device.select().count() == 1  # read first: a snapshot on SQLite
                read_done.set()
                other_committed.wait(0.5)  # the other writer must not get in now
                _device("kiosk-1")
        except (peewee.OperationalError, AssertionError) as exc:  # the assertion below shows it
            failures.append(exc)
        finally:
            database.close()

    def other_writer() -> None:
        try:
            read_done.wait(5)
            with writing():
                _device("kiosk-2")
            other_committed.set()
        except peewee.OperationalError as exc:
            failures.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=other_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert failures == []
    assert other_committed.is_set()
    assert sorted(device.device_id for device in Device.select()) == ["kiosk-0", "kiosk-1", "kiosk-2"]
