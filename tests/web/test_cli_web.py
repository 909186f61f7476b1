"""``hipec users``, ``hipec demo-data`` and ``hipec serve --demo`` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from webhelpers import Session, demo_console

SCRIPT = Path(sys.executable).with_name("hipec")


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120", **env},
        timeout=120,
        check=False,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for text in expected:
        assert text in lines[0]


def _database(tmp_path: Path) -> dict[str, str]:
    env = {"HIPEC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "HIPEC_USER": "ops"}
    assert run(["db", "upgrade"], env).returncode == 0
    return env


def test_users_add_list_and_refusals(tmp_path: Path) -> None:
    env = _database(tmp_path)
    added = run(
        ["users", "add", "alice", "--role", "surgeon", "--password-stdin", "--json"],
        env,
        "correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "surgeon"
    listed = json.loads(run(["users", "list", "--json"], env).stdout)
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [("alice", "surgeon", True)]
    assert "argon2" not in json.dumps(listed)
    assert_refused(
        run(["users", "add", "bob", "--role", "nurse", "--password-stdin"], env, "x" * 12),
        "role",
        "viewer",
    )
    assert_refused(
        run(["users", "add", "bob", "--role", "viewer", "--password-stdin"], env, "short\n"),
        "password",
        "10-256",
    )
    # no terminal and no --password-stdin: refused, never a password on the command line
    assert_refused(run(["users", "add", "carol", "--role", "viewer"], env), "--password-stdin")
    assert run(["users", "disable", "alice"], env).returncode == 0
    assert json.loads(run(["users", "list", "--json"], env).stdout)[0]["active"] is False


def test_demo_data_adds_labelled_synthetic_cases(tmp_path: Path) -> None:
    env = _database(tmp_path)
    done = run(["demo-data", "--cases", "5", "--seed", "3", "--json"], env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["added"] == [f"SYN-3-{i:03d}" for i in range(1, 6)] and body["synthetic"]
    cases = json.loads(run(["cases", "list", "--json"], env).stdout)
    assert len(cases) == 5 and all(c["synthetic"] for c in cases)
    # one simulated perfusion recorded for every operated case, none for the others
    assert body["runs"], "seed 3 has operated cases"
    assert sum(c["perfusion_runs"] for c in cases) == len(body["runs"])
    assert all(c["perfusion_runs"] == min(c["procedures"], 1) for c in cases)
    assert_refused(run(["demo-data", "--cases", "5", "--seed", "3"], env), "already exists")
    assert_refused(run(["demo-data", "--cases", "0"], env), "cases", "1-999")


def test_serve_refuses_a_bad_console_setting(tmp_path: Path) -> None:
    env = {"HIPEC_DATA_DIR": str(tmp_path)}
    assert_refused(run(["serve", "--demo"], {**env, "HIPEC_MAX_LIVE_RUNS": "0"}), "MAX_LIVE_RUNS")
    refused = run(["serve"], {**env, "HIPEC_SESSION_HOURS": "soon"})
    assert_refused(refused, "HIPEC_SESSION_HOURS", "valid number", "'soon'")
    assert not (tmp_path / "demo").exists()  # nothing prepared before the refusal


def test_serve_demo_prints_accounts_and_serves(tmp_path: Path) -> None:
    with demo_console(tmp_path, until="open http://", timeout_s=60) as demo:
        output, passwords = demo.output, demo.passwords
        assert f"open http://127.0.0.1:{demo.port}/" in output, output
        assert set(passwords) == {"admin", "surgeon", "perfusionist", "viewer"}, output
        assert (tmp_path / "demo" / "hipec-demo.sqlite3").exists()
        session = Session(demo.base_url)
        assert session.login("viewer", passwords["viewer"]).status_code == 303
        rows = session.client.get("/api/cases").json()
        assert len(rows) == 60 and all(row["synthetic"] for row in rows)
        assert "Demo: every case here is" in session.client.get("/cases").text
        # the past perfusions are recorded in the background while the console serves
        assert "recording the synthetic cases' past perfusions" in output
        completed: list[dict[str, object]] = []
        deadline = time.monotonic() + 120
        while not completed and time.monotonic() < deadline:
            rows = session.client.get("/api/cases").json()
            for number in [row["case_number"] for row in rows if row["perfusion_runs"] >= 1]:
                runs = session.client.get(f"/api/cases/{number}").json()["perfusion_runs"]
                completed += [run for run in runs if run["status"] == "completed"]
            time.sleep(0.5)
        assert completed, "no past perfusion was recorded within 2 min"
        assert completed[0]["regimen_id"] and completed[0]["perfusion_min"] > 0
        session.close()
