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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
