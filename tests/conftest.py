"""Shared test helpers: run the real ``hipec`` entry point as a user would."""

from __future__ import annotations

import json
import os

# The twin's matrices are small: a multi-threaded BLAS only adds contention on a few cores (the
# command line and `make test` say the same). Set before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dbhelpers import BACKENDS, fresh_database_url

_SCRIPT = Path(sys.executable).with_name("hipec")
HIPEC_COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [shutil.which("hipec") or "hipec"]


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def assert_refused(self, *expected: str) -> None:
        """Exit 2, nothing on stdout, one line on stderr naming what is wrong, no traceback."""
        assert self.exit_code == 2, self.stderr
        assert self.stdout == ""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: ")
        assert "Traceback" not in self.stderr
        for text in expected:
            assert text in lines[0], lines[0]


def run_hipec(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
    """Run the installed ``hipec`` console script in a subprocess."""
    full_env = {**os.environ, "COLUMNS": "120", **(env or {})}
    done = subprocess.run(
        [*HIPEC_COMMAND, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def hipec() -> Any:
    """The real command line: ``hipec("pci", "0=3", "--json")`` -> :class:`CliResult`."""
    return run_hipec


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no tables), on SQLite and on PostgreSQL."""
    with fresh_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    """An engine on a fresh database upgraded to the newest revision."""
    from hipec.store.db import create_db_engine, upgrade_database

    engine = create_db_engine(empty_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()
