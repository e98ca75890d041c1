"""Fan-out of stream messages to the connections of one API process.

The hub lives on the event loop and never awaits: ``publish`` puts a message, already
serialised once for everybody, into the bounded queue of every connection allowed to see it.
A connection whose queue is full is dropped there and then (its ``dropped`` event is set and it
gets nothing more), so a slow client costs the others one failed ``put_nowait`` and nothing
else, and its memory stays bounded by the queue size.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from hgj_api.live.protocol import StreamKind


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One message for the stream: what it is, where it belongs, and its frame."""

    kind: StreamKind
    community: str
    text: str


@dataclass(frozen=True, slots=True)
class StreamScope:
    """What one connection may see: these kinds, in these communities (None: all)."""

    kinds: frozenset[StreamKind]
    communities: frozenset[str] | None

    def allows(self, event: StreamEvent) -> bool:
        if event.kind not in self.kinds:
            return False
        return self.communities is None or event.community in self.communities


class Subscriber:
    """One connection's place in the hub."""

    def __init__(self, scope: StreamScope, queue_size: int) -> None:
        self.scope = scope
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.dropped = asyncio.Event()
        """Set when the connection fell a whole queue behind and was dropped."""


class StreamHub:
    def __init__(self, queue_size: int, on_drop: Callable[[], None] | None = None) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._on_drop = on_drop

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, scope: StreamScope) -> Subscriber:
        subscriber = Subscriber(scope, self.queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, event: StreamEvent) -> None:
        """Queue ``event`` for every connection in scope; drop the ones that are full."""
        full = []
        for subscriber in self._subscribers:
            if not subscriber.scope.allows(event):
                continue
            try:
                subscriber.queue.put_nowait(event.text)
            except asyncio.QueueFull:
                full.append(subscriber)
        for subscriber in full:
            self._subscribers.discard(subscriber)
            subscriber.dropped.set()
            if self._on_drop is not None:
                self._on_drop()
