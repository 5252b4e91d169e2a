"""`chunks_read_ahead`: the import reads, parses and checks the next chunk while the database writes this one.

Most of an import's time is PostgreSQL's (index upkeep, the foreign-key checks at commit),
during which the applying thread waits without the GIL; a thread of its own gets the next
chunk ready meanwhile (`item_checked`: no database), so the two cores work at once.

Tried and dropped: two writer threads, each applying a chunk on its own connection. Every bid
locks its job and cleaner rows for its foreign-key check; two transactions locking the same
rows share the lock through a MultiXact, and the writes got three times slower, not faster.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice

from app.marketplace.ingest.apply import item_checked
from app.marketplace.ingest.files import Record


def chunks_read_ahead(stream: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """Chunks of `size` records, each read, parsed and checked in a thread while the last is applied.

    A failure there (a file that cannot be read) is raised here.
    """
    chunks: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set() and (chunk := list(islice(stream, size))):
                chunks.put([replace(r, item=item_checked(r.item)) if r.problem is None else r for r in chunk])
            chunks.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            chunks.put(exc)

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        stop.set()
        while thread.is_alive():  # let a producer blocked on a full queue see `stop`
            try:
                chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()
