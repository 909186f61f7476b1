"""``hipec serve --demo`` (what ``make demo`` runs) comes up with a perfusion running."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from webhelpers import Session, demo_console

SCRIPT = Path(sys.executable).with_name("hipec")


def test_serve_demo_starts_a_live_perfusion(tmp_path: Path) -> None:
    with demo_console(tmp_path, until="demo perfusion running", timeout_s=90) as demo:
        output, passwords = demo.output, demo.passwords
        assert f"open http://127.0.0.1:{demo.port}/" in output, output
        match = re.search(r"demo perfusion running \(x10\): (/cases/\S+/live)", output)
        assert match, output
        session = Session(demo.base_url)
        assert session.login("viewer", passwords["viewer"]).status_code == 303
        runs = session.client.get("/api/runs").json()
        assert len(runs) == 1 and runs[0]["status"] == "running" and runs[0]["speed"] == 10
        assert runs[0]["url"].startswith(match.group(1))
        state = session.client.get(f"/api/cases/{runs[0]['case_number']}/live").json()
        assert state["run"]["started_by"] == "hipec-demo"
        page = session.client.get(match.group(1))
        assert page.status_code == 200 and 'id="live"' in page.text
        session.close()
