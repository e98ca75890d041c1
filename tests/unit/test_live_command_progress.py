"""Command progress on the live stream: this replica hands its own transitions to its
clients at once, and the MQTT echo (or an outbox re-send) of the same announcement is dropped,
by ``event_id`` per command, as alert changes are."""

from hgj_api.live.feed import AlertDeduplicator
from hgj_contracts import CommandProgress
from tests.statedb_fixtures import at


def _progress(command_id: str, event_id: int) -> CommandProgress:
    return CommandProgress(
        ts=at(event_id),
        event_id=event_id,
        command_id=command_id,
        device="gs-gate-n",
        action="open_gate",
        state="sent",
        previous_state="queued",
        requested_by="u-op",
        created_at=at(0),
        expires_at=at(30),
    )


def test_each_command_passes_each_announcement_once_and_never_an_older_one() -> None:
    seen = AlertDeduplicator()
    assert seen.is_new(_progress("c-1", 1))
    assert not seen.is_new(_progress("c-1", 1))  # the MQTT echo of our own hand-over
    assert seen.is_new(_progress("c-1", 3))
    assert not seen.is_new(_progress("c-1", 2))  # overtaken
    assert seen.is_new(_progress("c-2", 2))  # another command counts on its own
