"""``hipec report`` through the real entry point, on a SQLite database in a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hipec.store.db import create_db_engine, upgrade_database
from reportdata import add_report_case, record_run


@pytest.fixture
def data_dir(tmp_path: Path, hipec: Any) -> Path:
    """A data folder whose database ``hipec db upgrade`` created, with case T-001 (a recorded
    run) and T-002 (no perfusion yet)."""
    folder = tmp_path / "data"
    folder.mkdir()
    result = hipec("db", "upgrade", env={"HIPEC_DATA_DIR": str(folder)})
    assert result.exit_code == 0, result.stderr
    engine = create_db_engine(f"sqlite:///{folder / 'hipec.sqlite3'}")
    try:
        add_report_case(engine, "T-001")
        record_run(engine, "T-001")
        add_report_case(engine, "T-002", synthetic=True)
    finally:
        engine.dispose()
    return folder


def test_report_writes_html_and_pdf(hipec: Any, data_dir: Path, tmp_path: Path) -> None:
    env = {"HIPEC_DATA_DIR": str(data_dir)}
    html, pdf = tmp_path / "out" / "T-001.html", tmp_path / "out" / "T-001.pdf"
    html.parent.mkdir()
    result = hipec("report", "T-001", "--html", str(html), "--pdf", str(pdf), "--json", env=env)
    assert result.exit_code == 0, result.stderr
    digest = result.json()
    assert digest["written"] == [str(html), str(pdf)]
    assert digest["patient"]["case_number"] == "T-001"
    assert digest["run"]["status"] == "completed"
    assert [c["code"] for c in digest["billing"]["cpt"]] == ["96547", "96548"]
    assert 'id="billing"' in html.read_text(encoding="utf-8")
    assert pdf.read_bytes().startswith(b"%PDF-1.")

    text = hipec("report", "T-002", env=env)
    assert text.exit_code == 0, text.stderr
    assert "SYNTHETIC CASE" in text.stdout and "no perfusion recorded" in text.stdout
    assert "C78.6" in text.stdout


@pytest.fixture(scope="module")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A current database with case T-001 and no run (enough for the refusals)."""
    folder = tmp_path_factory.mktemp("data")
    engine = create_db_engine(f"sqlite:///{folder / 'hipec.sqlite3'}")
    try:
        upgrade_database(engine)
        add_report_case(engine, "T-001")
    finally:
        engine.dispose()
    return folder


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("NOPE",), "case: no case 'NOPE'"),
        (("T-001", "--pdf", "{tmp}/missing/r.pdf"), "--pdf: cannot write"),
        (("T-001", "--html", "{tmp}"), "--html: must be a file name"),
        (("T-001", "--time-rule", "quarter"), "--time-rule: must be one of midpoint, complete"),
    ],
)
def test_report_refusals(
    hipec: Any, small_data_dir: Path, tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    result = hipec("report", *args, env={"HIPEC_DATA_DIR": str(small_data_dir)})
    result.assert_refused(expected)
    assert not (tmp_path / "missing").exists()


def test_report_refuses_a_database_that_was_never_created(hipec: Any, tmp_path: Path) -> None:
    result = hipec("report", "T-001", env={"HIPEC_DATA_DIR": str(tmp_path)})
    result.assert_refused("hipec db upgrade")
