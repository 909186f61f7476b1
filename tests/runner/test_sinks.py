"""The queued sink: order kept, the loop never waits, a failing writer does not stop the run."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from hipec.control.events import Event
from hipec.protocols import get_regimen, plan_perfusion
from hipec.runner import RunConfig, RunSample, simulated_run
from hipec.runner.sinks import QueuedSink


class Recorder:
    """A sink that can be held up (``gate``) or made to fail at its ``fail_at``-th item."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.items: list[tuple[str, float]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_at = fail_at

    def _take(self, kind: str, time_s: float) -> None:
        self.gate.wait()
        if self.fail_at is not None and len(self.items) == self.fail_at:
            raise ConnectionError("database gone")
        self.items.append((kind, time_s))

    def on_sample(self, sample: RunSample) -> None:
        self._take("sample", sample.reading.time_s)

    def on_event(self, event: Event) -> None:
        self._take(event.kind, event.time_s)


def run_with(sink: Any, minutes: float = 3.0) -> list[tuple[str, float]]:
    """Run a short simulated perfusion into ``sink``; return what the loop produced, in order."""
    plan = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)
    produced: list[tuple[str, float]] = []

    class Tap:
        def on_sample(self, sample: RunSample) -> None:
            produced.append(("sample", sample.reading.time_s))

        def on_event(self, event: Event) -> None:
            produced.append((event.kind, event.time_s))

    config = RunConfig(control_period_s=1.0, max_run_s=minutes * 60.0)
    simulated_run(plan, config, sinks=[Tap(), sink], seed=1).run()
    return produced


def test_the_wrapped_sink_sees_everything_in_order() -> None:
    inner = Recorder()
    queued = QueuedSink(inner)
    produced = run_with(queued)
    queued.close(timeout_s=30)
    assert inner.items == produced and len(produced) > 100
    assert queued.dropped_samples == 0 and queued.pending == 0


def test_a_stalled_writer_never_holds_up_the_loop_and_drops_samples_not_events() -> None:
    inner = Recorder()
    inner.gate.clear()  # the database hangs for the whole run
    queued = QueuedSink(inner, max_pending=20)
    produced = run_with(queued)  # returns: the loop did not wait for the writer
    assert inner.items == []
    events = [item for item in produced if item[0] != "sample"]
    assert queued.dropped_samples > 0
    inner.gate.set()
    queued.close(timeout_s=30)
    delivered_events = [item for item in inner.items if item[0] != "sample"]
    assert delivered_events == events  # every event, in order
    samples = [item for item in inner.items if item[0] == "sample"]
    assert len(samples) + queued.dropped_samples == len(produced) - len(events)


def test_a_failing_writer_is_reported_once_and_raised_at_close() -> None:
    inner = Recorder(fail_at=25)
    errors: list[BaseException] = []
    queued = QueuedSink(inner, on_error=errors.append)
    produced = run_with(queued)  # the run goes on to its end
    assert len(produced) > 100
    with pytest.raises(ConnectionError, match="database gone"):
        queued.close(timeout_s=30)
    assert len(errors) == 1 and len(inner.items) == 25
    queued.on_sample(None)  # type: ignore[arg-type]  # after the failure: ignored, not raised


def test_max_pending_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        QueuedSink(Recorder(), max_pending=0)
