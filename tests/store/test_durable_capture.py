"""Durable capture (issue 5, item 2): a real ``hipec run --case`` process, killed mid-run.

Each test starts the installed console script against a fresh database (SQLite through
``HIPEC_DATA_DIR``, PostgreSQL through ``HIPEC_DATABASE_URL`` with its own schema), watches the
database from here while the run goes, and then kills it (SIGKILL: no clean-up runs), stops it
(SIGTERM: a clean abort) or lets it complete.

The process prints ``heartbeat TIME_S PHASE`` for every sample *before* the store sees it, so the
heartbeats are how far the run really got; the database must hold every one of them but at most
the last second's (issue 5: "at most 1 s of data is at risk"), none twice, none out of order.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from casedata import case_document
from dbhelpers import BACKENDS, fresh_database_url
from hipec.store.db import SQLITE_FILE_NAME, create_db_engine, transaction, upgrade_database
from hipec.store.models import PerfusionRun, RunEvent, run_samples
from hipec.store.recorder import mark_interrupted_runs
from hipec.store.repository import add_case, run_samples_columns

HIPEC = str(Path(sys.executable).with_name("hipec"))
CASE = "K-001"
#: A 30 min oxaliplatin perfusion (about 58 min of device time with heat, drain and rinse).
RUN = ["run", "--case", CASE, "--protocol", "elias-oxaliplatin"]
#: Accelerated real-time clock: 60 device seconds per wall second, so the run is mid-way when
#: the test has seen its samples arrive (a whole run would take about a minute).
SPEED = "60"
#: Samples the test waits to see committed before it stops the process.
SEEN_BEFORE_STOP = 40


@dataclass(frozen=True)
class Database:
    engine: Engine
    env: dict[str, str]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database holding case K-001, and the environment that points hipec at it."""
    with fresh_database_url(request.param, tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if k != "HIPEC_DATABASE_URL"}
        env.update(COLUMNS="120", OPENBLAS_NUM_THREADS="1", HIPEC_USER="perfusionist")
        if request.param == "sqlite":
            env["HIPEC_DATA_DIR"] = str(tmp_path)  # the default file in the data folder
            assert url == f"sqlite:///{tmp_path / SQLITE_FILE_NAME}"
        else:
            env["HIPEC_DATABASE_URL"] = url
        engine = create_db_engine(url)
        upgrade_database(engine)
        with transaction(engine) as session:
            add_case(session, case_document(CASE), actor="test")
        yield Database(engine, env)
        engine.dispose()


def start(database: Database, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``hipec run --case K-001 ...`` in the background, its standard output to a file."""
    out = tmp_path / "stdout.txt"
    with out.open("wb") as stdout:
        process = subprocess.Popen(
            [HIPEC, *RUN, *args],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=database.env,
        )
    return process, out


def committed_samples(engine: Engine) -> int:
    """Samples committed so far (a separate connection sees only committed rows)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(run_samples)).scalar_one())


def wait_for_samples(engine: Engine, process: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 120.0
    while committed_samples(engine) < count:
        if process.poll() is not None:
            raise AssertionError(f"hipec run ended early: {process.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"fewer than {count} samples committed after 120 s")
        time.sleep(0.05)


def heartbeats(out: Path) -> list[float]:
    """Device times [s] of the samples the process took, from its complete output lines."""
    lines = out.read_text().split("\n")[:-1]  # an unfinished last line is not a heartbeat
    return [float(line.split()[1]) for line in lines if line.startswith("heartbeat ")]


def the_run(engine: Engine) -> PerfusionRun:
    with transaction(engine) as session:
        runs = session.scalars(select(PerfusionRun)).all()
        assert len(runs) == 1
        return runs[0]


def samples_of(engine: Engine, run_id: int) -> dict[str, list[Any]]:
    with transaction(engine) as session:
        return run_samples_columns(session, run_id)


def assert_consecutive_1_hz(samples: dict[str, list[Any]]) -> None:
    """seq 0..n-1 (no gap, none twice) and device time exactly 1 s apart (1 Hz, increasing)."""
    assert samples["seq"] == list(range(len(samples["seq"])))
    times = samples["time_s"]
    assert all(later - earlier == 1.0 for earlier, later in itertools.pairwise(times))


def test_a_killed_run_keeps_every_committed_sample_and_is_interrupted_at_the_next_start(
    database: Database, tmp_path: Path
) -> None:
    engine = database.engine
    process, out = start(database, tmp_path, "--speed", SPEED, "--heartbeat")
    wait_for_samples(engine, process, SEEN_BEFORE_STOP)
    # a command started while the run goes does not take it for dead
    assert mark_interrupted_runs(engine) == []
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    run = the_run(engine)
    assert run.status == "running" and run.pid == process.pid
    samples = samples_of(engine, run.id)
    stored = samples["time_s"]
    taken = heartbeats(out)
    assert out.read_text().startswith(f"run {run.id} of case {CASE}: recording\n")
    # mid-run, at least what the test saw, 1 Hz, nothing lost in between, nothing twice
    assert SEEN_BEFORE_STOP <= len(stored) < 30 * 60
    assert_consecutive_1_hz(samples)
    assert stored == taken[: len(stored)]
    # at most the sample being written when the process died is lost: at most 1 s
    assert len(taken) - len(stored) in (0, 1)
    assert taken[-1] - stored[-1] <= 1.0
    # every committed event is intact and none is later than the run got
    with transaction(engine) as session:
        events = session.scalars(select(RunEvent).order_by(RunEvent.id)).all()
        assert [e.data["to"] for e in events if e.kind == "phase.changed"][:2] == [
            "setup",
            "prime",
        ]
        assert all(e.time_s <= taken[-1] for e in events)

    # the next start of any command that opens the store marks the run interrupted
    listed = subprocess.run(
        [HIPEC, "cases", "list", "--json"],
        capture_output=True,
        text=True,
        env=database.env,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    run = the_run(engine)
    assert run.status == "interrupted"
    assert run.end_reason == f"recording process {process.pid} ended without closing the run"
    assert run.sample_count == len(stored)
    assert run.duration_s == stored[-1] - stored[0]
    assert samples_of(engine, run.id) == samples  # untouched


def test_sigterm_aborts_the_run_cleanly_and_saves_it_as_aborted(
    database: Database, tmp_path: Path
) -> None:
    engine = database.engine
    process, out = start(database, tmp_path, "--speed", SPEED, "--heartbeat")
    wait_for_samples(engine, process, SEEN_BEFORE_STOP)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, process.stderr.read()  # type: ignore[union-attr]

    run = the_run(engine)
    assert run.status == "aborted"
    assert run.end_reason is not None and run.end_reason.endswith("stopped by SIGTERM")
    samples = samples_of(engine, run.id)
    assert_consecutive_1_hz(samples)
    # a clean stop loses nothing: every sample taken is stored
    assert samples["time_s"] == sorted(set(heartbeats(out)))
    assert run.sample_count == len(samples["seq"])
    assert run.summary is not None and run.summary["outcome"] == "aborted"
    assert (
        out.read_text()
        .rstrip()
        .endswith(f"run {run.id} of case {CASE} saved: aborted, {run.sample_count} samples")
    )


def test_a_fast_run_is_saved_complete_at_1_hz_with_its_summary(
    database: Database, tmp_path: Path
) -> None:
    done = subprocess.run(
        [HIPEC, *RUN, "--fast", "--json"],
        capture_output=True,
        text=True,
        env=database.env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    run = the_run(database.engine)
    assert (printed["run_id"], printed["case_number"], printed["outcome"]) == (
        run.id,
        CASE,
        "completed",
    )
    assert run.status == "completed" and run.end_reason is None
    samples = samples_of(database.engine, run.id)
    assert_consecutive_1_hz(samples)
    # one sample per second of the run's duration (and one at its start)
    assert run.duration_s is not None
    assert run.sample_count == len(samples["seq"]) == run.duration_s + 1
    assert run.duration_s == pytest.approx(printed["phases"][-1]["start_min"] * 60.0, abs=0.6)
    assert run.perfusion_min == 30.0
    summary = run.summary
    assert summary is not None and summary["phases"] == printed["phases"]
    assert len(summary["thermal"]["regions"]) == 13
    assert summary["drugs"]["oxaliplatin"]["dose_mg"] > 0
    assert run.plan is not None
    assert run.plan["patient"] == {"height_cm": 165.0, "weight_kg": 62.5}  # the case's
