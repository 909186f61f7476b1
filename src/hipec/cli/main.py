"""Entry point of the ``hipec`` command.

Every user error becomes one line on standard error and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import os
import sys

# The twin's matrices are small (about 135 x 135): on a few cores a multi-threaded BLAS only adds
# contention, so the command line runs it single-threaded unless the user says otherwise. Set before
# numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from typing import Annotated

import typer

from hipec import __version__
from hipec.cli import (
    assess,
    cases,
    codes,
    db,
    export,
    faults,
    pci,
    plan,
    protocols,
    report,
    scores,
    serve,
    simulate,
    users,
    validate,
)
from hipec.cli import run as run_command
from hipec.cli._common import err_console
from hipec.errors import HipecError

app = typer.Typer(
    name="hipec",
    help="CRS + HIPEC: scores, candidacy, regimens and dose plans. "
    "Research and training software, not a certified medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"hipec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """CRS + HIPEC: scores, candidacy, regimens and dose plans."""


for module in (
    pci,
    scores,
    assess,
    protocols,
    plan,
    db,
    cases,
    codes,
    export,
    users,
    serve,
    report,
    run_command,
    validate,
    simulate,
    faults,
):
    module.register(app)


def _error_line(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        result = app(args=argv, prog_name="hipec", standalone_mode=False)
    except HipecError as exc:
        _error_line(str(exc))
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error_line("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors from the argument parser
        if not exc.format_message():  # no arguments at all: the help was already shown
            return exc.exit_code
        context = getattr(exc, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        _error_line(exc.format_message().replace("\n", " ") + hint)
        return exc.exit_code
    # in non-standalone mode an early exit (--help, --version) comes back as its exit code
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
