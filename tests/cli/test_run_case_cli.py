"""``hipec run ... --case CASE`` through the real entry point, on SQLite and PostgreSQL.

The durability of the capture (a killed process, SIGTERM, a complete 1 Hz run) is proved in
tests/store/test_durable_capture.py; here: what the command prints, where height and weight come
from, and its refusals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from casedata import case_document
from dbhelpers import BACKENDS, fresh_database_url
from hipec.store.db import create_db_engine, transaction, upgrade_database
from hipec.store.models import PerfusionRun
from hipec.store.repository import add_case

#: A coarse control period keeps these runs short (the 1 Hz store is tested elsewhere).
QUICK = ["--protocol", "dutch-mmc", "--fast", "--period-s", "5"]


@dataclass(frozen=True)
class Store:
    url: str
    engine: Engine
    env: dict[str, str]

    def runs(self) -> list[PerfusionRun]:
        with transaction(self.engine) as session:
            return list(session.scalars(select(PerfusionRun).order_by(PerfusionRun.id)).all())


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One database per backend for the module: case C-1 (165 cm, 62.5 kg) and case W-1 (no
    weight recorded)."""
    with fresh_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        engine = create_db_engine(url)
        upgrade_database(engine)
        with transaction(engine) as session:
            add_case(session, case_document("C-1"), actor="test")
            add_case(session, case_document("W-1", weight_kg=None), actor="test")
        yield Store(url, engine, {"HIPEC_DATABASE_URL": url, "OPENBLAS_NUM_THREADS": "1"})
        engine.dispose()


def test_a_saved_run_prints_its_id_first_and_its_status_last(hipec: Any, store: Store) -> None:
    before = len(store.runs())
    result = hipec("run", "--case", "C-1", *QUICK, "--height-cm", "180", env=store.env)
    assert result.exit_code == 0, result.stderr
    run = store.runs()[-1]
    assert len(store.runs()) == before + 1
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"run {run.id} of case C-1: recording"
    assert lines[-1] == f"run {run.id} of case C-1 saved: completed, {run.sample_count} samples"
    assert "Phases" in result.stdout and "Doses" in result.stdout
    assert run.status == "completed" and run.sample_count > 0
    # an explicit height wins; the weight is the case's
    assert run.plan is not None and run.plan["patient"] == {"height_cm": 180.0, "weight_kg": 62.5}
    assert run.regimen_id == "dutch-mmc" and run.regimen is not None


def test_json_output_names_the_run_and_the_case(hipec: Any, store: Store) -> None:
    result = hipec("run", "--case", "C-1", *QUICK, "--json", env=store.env)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    run = store.runs()[-1]
    assert (data["run_id"], data["case_number"], data["outcome"]) == (run.id, "C-1", "completed")
    assert list(data)[-2:] == ["run_id", "case_number"]  # after the shape, unchanged
    assert run.summary is not None and run.summary["phases"] == data["phases"]
    assert run.plan is not None and run.plan["patient"] == {"height_cm": 165.0, "weight_kg": 62.5}


def test_an_unknown_case_is_refused_before_anything_runs(hipec: Any, store: Store) -> None:
    before = len(store.runs())
    hipec("run", "--case", "NOPE", *QUICK, env=store.env).assert_refused(
        "case", "'NOPE'", "hipec cases list"
    )
    assert len(store.runs()) == before


def test_a_case_without_a_weight_needs_the_option(hipec: Any, store: Store) -> None:
    hipec("run", "--case", "W-1", *QUICK, "--json", env=store.env).assert_refused(
        "weight_kg", "--weight-kg", "25-300 kg", "case W-1 has no recorded weight"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_without_tables_is_refused(hipec: Any, backend: str, tmp_path: Path) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        hipec("run", "--case", "C-1", *QUICK, env={"HIPEC_DATABASE_URL": url}).assert_refused(
            "hipec db upgrade"
        )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--height-cm", "170"], ["weight_kg", "--weight-kg", "no --case"]),
        (["--weight-kg", "70"], ["height_cm", "--height-cm", "100-250 cm", "no --case"]),
        (["--height-cm", "170", "--weight-kg", "70", "--heartbeat", "--json"], ["heartbeat"]),
    ],
)
def test_refusals_without_a_database(hipec: Any, args: list[str], expected: list[str]) -> None:
    hipec("run", *QUICK, *args).assert_refused(*expected)
