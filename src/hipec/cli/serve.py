"""``hipec serve`` (the web console) and ``hipec demo-data`` (synthetic cases).

``hipec serve --demo`` starts on a fresh demo database: SQLite in ``$HIPEC_DATA_DIR/demo`` (or a
new temporary folder without ``HIPEC_DATA_DIR``), never the configured registry; one account per
role with a random password printed at start, and synthetic cases. Their past perfusions are
simulated and recorded in the background while the console already serves (about a minute), so the
case pages, reports and outcome figures fill in as the console is used.
"""

from __future__ import annotations

import ipaddress
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hipec.cli._common import JsonOption, console, err_console, print_json
from hipec.errors import InvalidInputError

DEMO_DB_NAME = "hipec-demo.sqlite3"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_folder() -> Path:
    """Where ``--demo`` keeps its database: ``$HIPEC_DATA_DIR/demo`` or a new temporary folder."""
    from hipec.settings import get_settings

    settings = get_settings()
    if settings.data_dir is not None:
        folder = settings.data_dir / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return Path(tempfile.mkdtemp(prefix="hipec-demo-"))


def prepare_demo_database(folder: Path, *, cases: int, seed: int) -> tuple[str, dict[str, str]]:
    """A fresh demo database in ``folder``: accounts (returned with their passwords) and cases."""
    from hipec.store.db import create_db_engine, transaction, upgrade_database
    from hipec.store.demo import create_demo_users, seed_demo_registry

    path = folder / DEMO_DB_NAME
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)  # a demo starts afresh: new passwords, same synthetic cases
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    try:
        upgrade_database(engine)
        with transaction(engine) as session:
            passwords = create_demo_users(session, actor="hipec-demo")
            seed_demo_registry(session, count=cases, seed=seed, actor="hipec-demo")
    finally:
        engine.dispose()
    return url, passwords


def record_demo_history(url: str, *, cases: int, seed: int) -> threading.Thread:
    """Simulate and record the demo cases' past perfusions on a background thread (started)."""

    def record() -> None:
        from hipec.runner.demo_runs import record_demo_perfusions
        from hipec.store.db import create_db_engine
        from hipec.store.demo import synthetic_registry

        engine = create_db_engine(url)
        try:
            run_ids = record_demo_perfusions(engine, synthetic_registry(cases, seed), seed=seed)
        finally:
            engine.dispose()
        console.print(f"demo: {len(run_ids)} past perfusions recorded")

    thread = threading.Thread(target=record, name="hipec-demo-history", daemon=True)
    thread.start()
    return thread


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Fresh demo database: synthetic cases, printed passwords."),
    ] = False,
) -> None:
    """Run the web console (FastAPI on uvicorn)."""
    import uvicorn

    from hipec.web.app import create_app
    from hipec.web.config import get_web_settings

    settings = get_web_settings()
    if demo:
        from hipec.store.demo import DEFAULT_CASE_COUNT, DEFAULT_SEED

        folder = demo_folder()
        url, passwords = prepare_demo_database(folder, cases=DEFAULT_CASE_COUNT, seed=DEFAULT_SEED)
        settings = settings.model_copy(update={"database_url": url, "demo": True})
        table = Table(title="demo accounts", caption="new passwords at every start")
        table.add_column("username")
        table.add_column("password")
        for username, password in passwords.items():
            table.add_row(username, password)
        console.print(
            f"demo database: {folder / DEMO_DB_NAME} ({DEFAULT_CASE_COUNT} synthetic cases)"
        )
        console.print(table)
        console.print("demo: recording the synthetic cases' past perfusions in the background")
        record_demo_history(url, cases=DEFAULT_CASE_COUNT, seed=DEFAULT_SEED)
    app = create_app(settings)
    shown_host = f"[{host}]" if ":" in host else host
    if not _is_loopback(host) and settings.cookie_secure == "auto":
        console.print(
            "note: away from localhost the session cookie is Secure: serve the console behind "
            "HTTPS (a TLS-terminating proxy), or logins will not stick"
        )
    console.print(f"hipec console: open http://{shown_host}:{port}/  (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


def demo_data(
    cases: Annotated[int, typer.Option("--cases", help="How many synthetic cases, 1-999.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generator.")] = 2026,
    runs: Annotated[
        bool,
        typer.Option(
            "--runs/--no-runs",
            help="Simulate and record a perfusion for every operated case (about 1-3 s each).",
        ),
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Add synthetic (clearly labelled) cases to the configured database, with their perfusions."""
    from rich.progress import Progress

    from hipec.cli.db import open_store
    from hipec.runner.demo_runs import record_demo_perfusions
    from hipec.store.db import current_actor, transaction
    from hipec.store.demo import MAX_CASE_COUNT, synthetic_registry
    from hipec.store.repository import add_case

    if not 1 <= cases <= MAX_CASE_COUNT:
        raise InvalidInputError("cases", f"must be 1-{MAX_CASE_COUNT}, got {cases}")
    if seed < 0:
        raise InvalidInputError("seed", f"must be 0 or more, got {seed}")
    registry = synthetic_registry(cases, seed)
    actor = current_actor()
    engine = open_store()
    try:
        with transaction(engine) as session:
            numbers = [add_case(session, c.document, actor=actor).case_number for c in registry]
        run_ids: list[int] = []
        if runs:
            with Progress(console=err_console, transient=True, disable=json_output) as bar:
                task = bar.add_task("simulating perfusions", total=None)
                run_ids = record_demo_perfusions(
                    engine,
                    registry,
                    actor=actor,
                    seed=seed,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    finally:
        engine.dispose()
    if json_output:
        print_json({"added": numbers, "runs": run_ids, "synthetic": True, "seed": seed})
    else:
        console.print(
            f"added {len(numbers)} synthetic cases ({numbers[0]} to {numbers[-1]})"
            f" and {len(run_ids)} simulated perfusion runs"
        )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``demo-data`` to ``app``."""
    app.command("serve")(serve)
    app.command("demo-data")(demo_data)
