"""Many annotators in threads against the queue, with a watcher that fails the run the moment an
item is over-assigned (tests/annotation/test_queue_concurrency.py, tests/quality/test_triage_*)."""

import threading
import time
from collections.abc import Callable

from django.db import connections


def annotators_run(
    *,
    users: list,
    annotate: Callable[[object, int], None],
    start: threading.Barrier,
    overfull: Callable[[], list[int]],
    failures: list[str],
    time_limit: float,
) -> float:
    """Run ``annotate(user, n)`` for each user in its own thread (each waits on ``start``, which
    counts this caller too) while ``overfull()`` is checked every 10 ms; returns the seconds from
    the start to the last thread's end."""
    stop = threading.Event()

    def watch() -> None:
        try:
            while not stop.is_set():
                if bad := overfull():
                    failures.append(f"over-assigned during the run: items {bad}")
                    return
                time.sleep(0.01)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=annotate, args=(u, n)) for n, u in enumerate(users)]
    watcher = threading.Thread(target=watch)
    for thread in threads:
        thread.start()
    watcher.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(time_limit + 15)
    stop.set()
    watcher.join(5)
    return time.monotonic() - began
