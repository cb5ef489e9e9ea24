"""Read and validate the next chunks of a file in a thread while the current one is written.

An import alternates two kinds of work: reading and parsing rows (Python, holding the GIL) and
waiting for the database to write a chunk (the driver releases the GIL while it waits). Done one
after the other, each waits for the other; with the reading in a thread, parsing chunk n+1 runs
while the database writes chunk n, on the second core. The reading thread never touches the
database: it only turns file rows into cleaned rows.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from django.utils import timezone, translation

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(items: Iterator[T], *, depth: int) -> Iterator[T]:
    """Yield ``items``, produced by a thread up to ``depth`` ahead; ``depth`` 0 runs inline.

    The thread reads with the caller's language and time zone (both thread-local in Django), so
    reasons and dates are exactly what they would be inline. An error in the thread is raised
    here; if the caller stops early, the thread is stopped and ``items`` closed.
    """
    if depth <= 0:
        yield from items
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    language, zone = translation.get_language(), timezone.get_current_timezone()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with translation.override(language), timezone.override(zone):
                for item in items:
                    if not put(item):
                        return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
