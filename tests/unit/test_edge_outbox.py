"""The edge outbox on its own: order, acknowledgement, the replay window, purge, bounds and the
drop policy per message class, and what survives closing the file (or killing its writer).

Time is a fake clock the test moves by hand, so window boundaries are exact.
"""

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hgj_contracts import (
    ALERT,
    COMMAND,
    COMMAND_RESULT,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    MAX_PAYLOAD_BYTES,
    TELEMETRY,
    ContractError,
)
from hgj_edge.message_class import classify
from hgj_edge.outbox import Outbox

IDS = {"root": "hgj", "community": "guangsha", "device": "th-0001"}
TELEMETRY_TOPIC = TELEMETRY.topic(**IDS)
SMOKE_TOPIC = EVENT.topic(kind="smoke", **IDS)
STATUS_TOPIC = DEVICE_STATUS.topic(**IDS)
STATE_TOPIC = DEVICE_STATE.topic(**IDS)
RESULT_TOPIC = COMMAND_RESULT.topic(action="open", **IDS)
WINDOW = 10.0


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite"


def open_outbox(
    path: Path, clock: FakeClock, max_messages: int = 1000, max_bytes: int = 1 << 20
) -> Outbox:
    return Outbox(
        path, replay_window_s=WINDOW, clock=clock, max_messages=max_messages, max_bytes=max_bytes
    )


@pytest.fixture
def outbox(path: Path, clock: FakeClock) -> Iterator[Outbox]:
    with open_outbox(path, clock) as box:
        yield box


def payloads(box: Outbox) -> list[bytes]:
    return [m.payload for m in box.next_unsent(1000)]


# Order, classes, acknowledgement ----------------------------------------------------------


def test_messages_come_out_in_put_order_with_the_channel_qos_retain_and_class(
    outbox: Outbox,
) -> None:
    ids = [
        outbox.put(TELEMETRY_TOPIC, b"t1"),
        outbox.put(SMOKE_TOPIC, b"smoke"),
        outbox.put(STATUS_TOPIC, b"online"),
        outbox.put(TELEMETRY_TOPIC, b"t2"),
    ]
    rows = outbox.next_unsent(10)
    assert [r.id for r in rows] == ids
    assert [(r.payload, r.message_class, r.qos, r.retain) for r in rows] == [
        (b"t1", "telemetry", 1, False),
        (b"smoke", "event", 1, False),
        (b"online", "device_status", 1, True),
        (b"t2", "telemetry", 1, False),
    ]
    first = ids[0]
    assert first is not None
    assert [r.id for r in outbox.next_unsent(2, after_id=first)] == ids[1:3]


def test_message_class_comes_from_the_contract_channel() -> None:
    assert classify(TELEMETRY_TOPIC).droppable
    for topic in (SMOKE_TOPIC, STATUS_TOPIC, STATE_TOPIC, RESULT_TOPIC):
        assert not classify(topic).droppable, topic
    assert classify(STATE_TOPIC).retain


def test_put_refuses_what_a_device_may_not_send(outbox: Outbox) -> None:
    with pytest.raises(ContractError, match="unknown_topic"):
        outbox.put("hgj/guangsha/dev/th-0001/telemetryx", b"{}")
    with pytest.raises(ValueError, match="devices do not publish"):
        outbox.put(COMMAND.topic(action="open", **IDS), b"{}")
    with pytest.raises(ValueError, match="devices do not publish"):
        outbox.put(ALERT.topic(root="hgj", community="guangsha", rule="smoke"), b"{}")
    with pytest.raises(ContractError, match="oversize"):
        outbox.put(TELEMETRY_TOPIC, b"x" * (MAX_PAYLOAD_BYTES + 1))
    assert outbox.next_unsent(10) == []


def test_acknowledged_messages_are_not_sent_again_but_kept_for_the_window(
    outbox: Outbox, clock: FakeClock
) -> None:
    first = outbox.put(TELEMETRY_TOPIC, b"t1")
    outbox.put(TELEMETRY_TOPIC, b"t2")
    assert first is not None
    assert outbox.mark_acked([first], at=clock.now) == 1
    assert payloads(outbox) == [b"t2"]
    stats = outbox.stats()
    assert (stats.messages, stats.unacked, stats.acked_kept) == (2, 1, 1)
    assert outbox.unacked_count() == 1
    assert outbox.acked_ids_since(clock.now) == [first]


# The replay window ------------------------------------------------------------------------


def put_acked(box: Outbox, payload: bytes, at: float) -> int:
    row_id = box.put(TELEMETRY_TOPIC, payload)
    assert row_id is not None
    box.mark_acked([row_id], at)
    return row_id


def test_replay_puts_back_what_was_acked_within_the_window_before_the_drop(
    outbox: Outbox,
) -> None:
    put_acked(outbox, b"old", at=1_000.0 - 0.001)  # just outside [1000, 1010]
    edge = put_acked(outbox, b"edge", at=1_000.0)
    inside = put_acked(outbox, b"inside", at=1_005.0)
    last = put_acked(outbox, b"last", at=1_010.0)
    outbox.put(TELEMETRY_TOPIC, b"unacked")

    replay = outbox.replay_after_reconnect(disconnected_at=1_010.0)

    assert replay.replayed_ids == (edge, inside, last)
    assert replay.unacked == 1
    # never acknowledged first, then the replays in their original order
    assert payloads(outbox) == [b"unacked"]
    assert [m.payload for m in outbox.next_replay(10)] == [b"edge", b"inside", b"last"]
    assert [m.id for m in outbox.next_replay(10, after_id=edge)] == [inside, last]
    assert outbox.stats().replayed == 3


def test_replay_window_counts_back_from_the_last_puback_when_the_drop_is_noticed_late(
    outbox: Outbox,
) -> None:
    """A broker host that dies without closing the socket is noticed only after the keepalive;
    the window must still cover the acknowledgements of its last seconds."""
    put_acked(outbox, b"before", at=989.0)
    last = put_acked(outbox, b"last second", at=1_000.0)

    replay = outbox.replay_after_reconnect(disconnected_at=1_045.0)

    assert replay.replayed_ids == (last,)


def test_replayed_messages_are_acknowledged_again_and_replayed_after_the_next_drop(
    outbox: Outbox,
) -> None:
    row = put_acked(outbox, b"t1", at=1_000.0)
    assert outbox.replay_after_reconnect(1_001.0).replayed_ids == (row,)
    assert outbox.replay_after_reconnect(1_002.0).replayed_ids == ()  # not acked again yet
    assert [m.id for m in outbox.next_replay(10)] == [row]  # still to be sent again
    outbox.mark_acked([row], at=1_003.0)
    assert outbox.next_replay(10) == []
    assert outbox.replay_after_reconnect(1_020.0).replayed_ids == (row,)
    assert outbox.stats().replayed == 2


def test_replay_with_nothing_acknowledged_only_counts_the_unacked(outbox: Outbox) -> None:
    outbox.put(SMOKE_TOPIC, b"smoke")
    replay = outbox.replay_after_reconnect(1_000.0)
    assert (replay.unacked, replay.replayed_ids) == (1, ())


def test_a_replayed_retained_message_with_a_newer_one_behind_it_goes_out_unretained(
    outbox: Outbox,
) -> None:
    """Replays go after never-acknowledged messages: an older status replayed with the retain
    flag would overwrite the newer retained status sent just before it."""
    old = outbox.put(STATUS_TOPIC, b"online")
    assert old is not None
    outbox.mark_acked([old], at=1_000.0)
    outbox.put(STATUS_TOPIC, b"offline")
    outbox.replay_after_reconnect(1_001.0)
    [newer] = outbox.next_unsent(10)
    [replayed] = outbox.next_replay(10)
    assert (newer.payload, newer.publish_retain) == (b"offline", True)
    assert (replayed.payload, replayed.retain, replayed.publish_retain) == (b"online", True, False)


# Purge ------------------------------------------------------------------------------------


def test_purge_removes_only_acknowledged_messages_past_the_window(outbox: Outbox) -> None:
    put_acked(outbox, b"past", at=1_001.0 - 0.001)
    kept = put_acked(outbox, b"edge", at=1_001.0)
    latest = put_acked(outbox, b"latest", at=1_011.0)
    unacked = outbox.put(TELEMETRY_TOPIC, b"unacked")

    assert outbox.purge(now=1_011.0) == 1

    assert outbox.acked_ids_since(0.0) == [kept, latest]
    assert [r.id for r in outbox.next_unsent(10)] == [unacked]
    assert outbox.stats().messages == 3


def test_purge_keeps_the_last_acknowledgements_when_the_broker_went_quiet(
    outbox: Outbox,
) -> None:
    """A connection that looks alive may belong to a dead broker: the window before its last
    PUBACK stays replayable however late the purge runs."""
    row = put_acked(outbox, b"last", at=1_000.0)
    assert outbox.purge(now=1_100.0) == 0
    assert outbox.replay_after_reconnect(1_120.0).replayed_ids == (row,)


# Bounds and the drop policy ---------------------------------------------------------------


def test_when_full_the_oldest_telemetry_is_dropped_first_and_counted(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock, max_messages=4) as box:
        box.put(TELEMETRY_TOPIC, b"t1")
        box.put(SMOKE_TOPIC, b"smoke")
        box.put(TELEMETRY_TOPIC, b"t2")
        box.put(RESULT_TOPIC, b"result")
        box.put(TELEMETRY_TOPIC, b"t3")
        box.put(STATUS_TOPIC, b"online")
        assert payloads(box) == [b"smoke", b"result", b"t3", b"online"]
        assert box.drop_counts() == {"telemetry": 2}
        stats = box.stats()
        assert (stats.messages, stats.over_bound) == (4, False)


def test_the_byte_bound_drops_as_many_old_telemetry_messages_as_needed(
    path: Path, clock: FakeClock
) -> None:
    size = len(b"0123456789") + len(TELEMETRY_TOPIC.encode())
    with open_outbox(path, clock, max_bytes=3 * size) as box:
        for i in range(3):
            box.put(TELEMETRY_TOPIC, b"%010d" % i)
        box.put(TELEMETRY_TOPIC, b"x" * (10 + size))  # needs two messages' room
        assert payloads(box) == [b"0000000002", b"x" * (10 + size)]
        assert box.stats().bytes <= 3 * size
        assert box.drop_counts() == {"telemetry": 2}


def test_alarms_are_never_dropped_and_exceed_the_bound_with_a_warning(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with open_outbox(path, clock, max_messages=2) as box:
        box.put(SMOKE_TOPIC, b"a1")
        box.put(RESULT_TOPIC, b"r1")
        with caplog.at_level(logging.WARNING, logger="hgj_edge.outbox"):
            assert box.put(SMOKE_TOPIC, b"a2") is not None
            assert box.put(RESULT_TOPIC, b"r2") is not None
        assert "full" in caplog.text
        assert "class event" in caplog.text
        assert payloads(box) == [b"a1", b"r1", b"a2", b"r2"]
        assert box.stats().over_bound
        assert box.drop_counts() == {}


def test_telemetry_arriving_at_an_outbox_full_of_alarms_is_dropped_and_counted(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock, max_messages=2) as box:
        box.put(SMOKE_TOPIC, b"a1")
        box.put(SMOKE_TOPIC, b"a2")
        assert box.put(TELEMETRY_TOPIC, b"t1") is None
        assert payloads(box) == [b"a1", b"a2"]
        assert box.drop_counts() == {"telemetry": 1}


def test_when_full_a_superseded_retained_status_is_coalesced_not_an_alarm(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock, max_messages=3) as box:
        box.put(STATUS_TOPIC, b"online")
        box.put(SMOKE_TOPIC, b"smoke")
        box.put(STATE_TOPIC, b"state1")
        box.put(STATUS_TOPIC, b"offline")  # supersedes "online", which makes the room
        box.put(STATE_TOPIC, b"state2")  # supersedes "state1"
        assert payloads(box) == [b"smoke", b"offline", b"state2"]
        assert box.drop_counts() == {"device_status": 1, "device_state": 1}


def test_retained_messages_are_kept_in_full_while_there_is_room(outbox: Outbox) -> None:
    """Every status change is a point in the device's history, so coalescing waits for a
    full outbox."""
    outbox.put(STATUS_TOPIC, b"online")
    outbox.put(STATUS_TOPIC, b"offline")
    assert payloads(outbox) == [b"online", b"offline"]


def test_acknowledged_messages_make_room_before_unacknowledged_ones_without_counting_as_loss(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock, max_messages=2) as box:
        put_acked(box, b"delivered", at=clock.now)
        box.put(TELEMETRY_TOPIC, b"t2")
        box.put(TELEMETRY_TOPIC, b"t3")
        assert payloads(box) == [b"t2", b"t3"]
        stats = box.stats()
        assert (stats.dropped, stats.evicted_acked) == ({}, 1)


def test_acknowledged_messages_past_the_window_are_purged_before_anything_is_dropped(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock, max_messages=2) as box:
        put_acked(box, b"old", at=900.0)
        put_acked(box, b"recent", at=1_000.0)
        box.put(TELEMETRY_TOPIC, b"new")
        assert box.acked_ids_since(0.0) == [2]
        stats = box.stats()
        assert (stats.dropped, stats.evicted_acked, stats.messages) == ({}, 0, 2)


# Rejected messages ------------------------------------------------------------------------


def test_a_rejected_message_leaves_the_queue_is_counted_and_kept_for_inspection(
    path: Path, clock: FakeClock
) -> None:
    with open_outbox(path, clock) as box:
        row = box.put(SMOKE_TOPIC, b"smoke")
        box.put(TELEMETRY_TOPIC, b"t1")
        assert row is not None
        assert box.mark_rejected(row, 0x87, "Not authorized", at=clock.now)
        assert not box.mark_rejected(row, 0x87, "Not authorized", at=clock.now)
        assert payloads(box) == [b"t1"]
    with open_outbox(path, clock) as box:
        assert box.stats().rejected == {"event": 1}
        [rejected] = box.rejected_messages()
        assert (rejected.id, rejected.topic, rejected.reason_code) == (row, SMOKE_TOPIC, 0x87)


def test_the_rejected_table_keeps_only_the_latest(path: Path, clock: FakeClock) -> None:
    with Outbox(path, clock=clock, max_rejected_kept=2) as box:
        rows = [box.put(TELEMETRY_TOPIC, b"%d" % i) for i in range(3)]
        for row in rows:
            assert row is not None
            box.mark_rejected(row, 0x97, "Quota exceeded", at=clock.now)
        assert [r.id for r in box.rejected_messages()] == [rows[2], rows[1]]
        assert box.stats().rejected == {"telemetry": 3}


# Durability -------------------------------------------------------------------------------


def test_messages_acks_and_counts_survive_close_and_reopen(path: Path, clock: FakeClock) -> None:
    with open_outbox(path, clock, max_messages=2) as box:
        put_acked(box, b"t1", at=clock.now)
        box.put(SMOKE_TOPIC, b"smoke")
        box.put(TELEMETRY_TOPIC, b"t2")  # evicts the acknowledged t1
        box.put(TELEMETRY_TOPIC, b"t3")  # drops t2
        box.replay_after_reconnect(clock.now)
    with open_outbox(path, clock, max_messages=2) as box:
        assert payloads(box) == [b"smoke", b"t3"]
        stats = box.stats()
        assert (stats.messages, stats.dropped, stats.evicted_acked) == (2, {"telemetry": 1}, 1)
        assert box.drop_counts() == {"telemetry": 1}
        assert box.stats().bytes == sum(len(m.payload) + len(m.topic) for m in box.next_unsent(9))
        # ids are never reused, not even the newest one's once it is gone, so id order
        # stays the order of put() over the file's life
        newest = box.next_unsent(9)[-1].id
        box.mark_rejected(newest, 0x87, "Not authorized", at=clock.now)
        new = box.put(TELEMETRY_TOPIC, b"t4")
        assert new == newest + 1


def test_a_put_is_durable_when_it_returns_even_if_the_process_is_killed(path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from hgj_edge.outbox import Outbox\n"
        "box = Outbox(Path(sys.argv[1]))\n"
        "for i in range(50):\n"
        f"    box.put({TELEMETRY_TOPIC!r}, b'%d' % i)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60)
    assert done.returncode == -9
    with Outbox(path) as box:
        assert payloads(box) == [b"%d" % i for i in range(50)]


def test_the_file_is_in_wal_mode(outbox: Outbox, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_put_wakes_listeners_after_the_commit(outbox: Outbox) -> None:
    seen: list[int] = []
    outbox.add_put_listener(lambda: seen.append(outbox.unacked_count()))
    outbox.put(TELEMETRY_TOPIC, b"t1")
    outbox.put(TELEMETRY_TOPIC, b"t2")
    assert seen == [1, 2]
