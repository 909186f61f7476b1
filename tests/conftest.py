"""Shared test helpers: run the real ``hipec`` entry point as a user would."""

from __future__ import annotations

import json
import os
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
