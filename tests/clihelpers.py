"""Run hipec commands for the case-record CLI tests.

Once ``hipec.cli.main`` registers the modules (cases, codes, db, export), the tests go through the
real console script in a subprocess (as conftest's ``run_hipec`` does); until then they call
``hipec.cli.main.main`` in-process after registering the modules on the app themselves.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipec.cli import cases, codes, db, export
from hipec.cli import main as cli_main

_SCRIPT = Path(sys.executable).with_name("hipec")
_COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [shutil.which("hipec") or "hipec"]

_MODULES = (db, cases, codes, export)


def _registered_names() -> set[str]:
    names = {group.name for group in cli_main.app.registered_groups}
    names |= {command.name for command in cli_main.app.registered_commands}
    return {name for name in names if name}


WIRED = {"cases", "codes", "db", "export", "import"} <= _registered_names()


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _in_process(args: tuple[str, ...], env: dict[str, str]) -> Result:
    if not {"cases", "codes"} <= _registered_names():
        for module in _MODULES:
            module.register(cli_main.app)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = cli_main.main(list(args))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Result(code, out.getvalue(), err.getvalue())


def make_runner(env: dict[str, str]) -> Callable[..., Result]:
    """``run("cases", "list", "--json")`` with ``env`` set (real entry point once wired)."""

    def run(*args: str) -> Result:
        if WIRED:
            done = subprocess.run(
                [*_COMMAND, *args],
                capture_output=True,
                text=True,
                env={**os.environ, "COLUMNS": "120", **env},
                timeout=300,
                check=False,
            )
            return Result(done.returncode, done.stdout, done.stderr)
        return _in_process(args, env)

    return run
