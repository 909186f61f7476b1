"""``hipec serve --demo`` (what ``make demo`` runs) comes up with a perfusion running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from webhelpers import Session, free_port

SCRIPT = Path(sys.executable).with_name("hipec")


def test_serve_demo_starts_a_live_perfusion(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HIPEC_DATA_DIR": str(tmp_path), "COLUMNS": "120"}
    env.pop("HIPEC_DATABASE_URL", None)
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        output = ""
        deadline = time.monotonic() + 90
        while "demo perfusion running" not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        assert f"open http://127.0.0.1:{port}/" in output, output
        match = re.search(r"demo perfusion running \(x10\): (/cases/\S+/live)", output)
        assert match, output
        passwords = dict(re.findall(r"│ (admin|surgeon|perfusionist|viewer)\s+│ (\S+)\s+│", output))
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        session = Session(base)
        assert session.login("viewer", passwords["viewer"]).status_code == 303
        runs = session.client.get("/api/runs").json()
        assert len(runs) == 1 and runs[0]["status"] == "running" and runs[0]["speed"] == 10
        assert runs[0]["url"].startswith(match.group(1))
        state = session.client.get(f"/api/cases/{runs[0]['case_number']}/live").json()
        assert state["run"]["started_by"] == "hipec-demo"
        page = session.client.get(match.group(1))
        assert page.status_code == 200 and 'id="live"' in page.text
        session.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
