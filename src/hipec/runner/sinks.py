"""A sink that never makes the control loop wait: :class:`QueuedSink`.

The runner calls its sinks inside the control loop. A sink that writes to a database can stall
(a lock held by another writer, a slow disk, a network database); the heater and pumps must not
wait for it. :class:`QueuedSink` takes each sample and event in constant time, puts it on a queue
and hands it to the wrapped sink on a writer thread, in the order it came.

What it promises:

- **order**: the wrapped sink sees samples and events in the order the runner produced them;
- **the loop never blocks**: when ``max_pending`` items are waiting (the writer has stalled that
  long), further *samples* are dropped and counted (:attr:`QueuedSink.dropped_samples`); events
  (alarms, doses, phases) are never dropped while the writer is alive;
- **a failing writer does not stop the perfusion**: the first exception of the wrapped sink is
  kept (:attr:`QueuedSink.error`), ``on_error`` is called once from the writer thread, and later
  items are discarded; :meth:`QueuedSink.close` re-raises it once the run is over.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Final

from hipec.control.events import Event
from hipec.runner.engine import RunSample, RunSink

#: Items that may wait for the writer before samples are dropped (about 28 h of 1 Hz samples).
DEFAULT_MAX_PENDING: Final = 100_000

_STOP: Final = object()


class QueuedSink:
    """Forward samples and events to ``inner`` on a writer thread (see the module docstring).

    Parameters
    ----------
    inner
        The sink that does the slow work (a :class:`~hipec.runner.recording.StoreSink`, say).
    max_pending
        Items that may wait before samples are dropped.
    on_error
        Called once, on the writer thread, with the first exception of ``inner``.
    name
        Name of the writer thread.
    """

    def __init__(
        self,
        inner: RunSink,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "hipec-sink-writer",
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.inner = inner
        self.max_pending = max_pending
        self.on_error = on_error
        self.dropped_samples = 0
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._write, name=name, daemon=True)
        self._thread.start()

    # -- the runner's side (control loop) -------------------------------------------------------

    def on_sample(self, sample: RunSample) -> None:
        """Queue a sample (dropped and counted if the writer is ``max_pending`` behind)."""
        with self._lock:
            if self.error is not None or self._closed:
                return
            if self._pending >= self.max_pending:
                self.dropped_samples += 1
                return
            self._pending += 1
        self._queue.put(sample)

    def on_event(self, event: Event) -> None:
        """Queue an event (never dropped while the writer is alive)."""
        with self._lock:
            if self.error is not None or self._closed:
                return
            self._pending += 1
        self._queue.put(event)

    @property
    def pending(self) -> int:
        """Items waiting for the writer."""
        with self._lock:
            return self._pending

    def close(self, timeout_s: float | None = None) -> None:
        """Let the writer finish what is queued, stop it, and re-raise its error if it had one.

        Raises
        ------
        TimeoutError
            If the writer has not caught up within ``timeout_s``.
        BaseException
            The wrapped sink's first error.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(
                f"the sink writer is {self.pending} items behind after {timeout_s} s"
            )
        if self.error is not None:
            raise self.error

    # -- the writer thread ----------------------------------------------------------------------

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if self.error is None:
                    if isinstance(item, Event):
                        self.inner.on_event(item)
                    elif isinstance(item, RunSample):
                        self.inner.on_sample(item)
            except BaseException as exc:  # kept and re-raised by close(); the loop goes on
                with self._lock:
                    self.error = exc
                if self.on_error is not None:
                    with contextlib.suppress(Exception):  # a failing report must not kill us
                        self.on_error(exc)
            finally:
                with self._lock:
                    self._pending -= 1


__all__ = ["DEFAULT_MAX_PENDING", "QueuedSink"]
