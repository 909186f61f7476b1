"""Live console under load: 20 perfusions at 10 samples/s streaming to 20 WebSocket clients.

A real server (``uvicorn`` in a child process on 127.0.0.1, a fresh SQLite database, every run
recorded as in the console) and real WebSocket clients (the ``websockets`` package) in this
process, one per run. Each run is a Dutch MMC perfusion at x10 speed with the machine's 1 s control
period: 10 samples per second of wall time.

Figures: samples received; lost samples (gaps in the per-run sequence numbers, plus samples the
server thinned for a slow client); device-to-client latency = receipt time - the sink's time
stamp (same machine, same clock), median, p95 and max. Goal (issue 6): no sample lost, p95 <= 250
ms. The machine's load average is printed before and after.

    python benchmarks/console.py [--runs 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "benchmark-password-123"
SPEED = 10.0
GOAL_P95_S = 0.250


def serve(port: int, database: Path, runs: int) -> None:
    """The child process: seed a database, then run the console on ``port``."""
    import uvicorn

    from hipec.store.db import create_db_engine, transaction, upgrade_database
    from hipec.store.demo import seed_demo_registry
    from hipec.store.users import add_user
    from hipec.web.app import create_app
    from hipec.web.config import WebSettings

    url = f"sqlite:///{database}"
    engine = create_db_engine(url)
    upgrade_database(engine)
    with transaction(engine) as session:
        add_user(session, "perfusionist", "perfusionist", PASSWORD, actor="benchmark")
        seed_demo_registry(session, count=max(runs, 1) + 5, seed=7, actor="benchmark")
    engine.dispose()
    app = create_app(WebSettings(database_url=url))
    app.state.live_runs.max_runs = runs
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no login form"
    done = client.post(
        "/login",
        data={"username": "perfusionist", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert done.status_code == 303, done.text
    page = client.get("/cases").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]*)">', page)
    assert csrf, "no CSRF token"
    return client, csrf.group(1)


async def watch(url: str, origin: str, cookie: str, seconds: float) -> dict[str, Any]:
    import websockets

    latencies: list[float] = []
    gaps = skipped = samples = events = 0
    ended = False
    async with websockets.connect(
        url, origin=origin, additional_headers={"Cookie": cookie}, max_size=2**24
    ) as ws:
        hello = json.loads(await ws.recv())
        last = hello["last_seq"]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                text = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            except websockets.ConnectionClosed:
                ended = True  # the run ended inside the window: its stream is complete
                break
            received = time.time()
            message = json.loads(text)
            if message["type"] == "skipped":
                skipped += message["count"]
                continue
            if message["seq"] != last + 1:
                gaps += message["seq"] - last - 1
            last = message["seq"]
            if message["type"] == "sample":
                samples += 1
                latencies.append(received - message["wall"])
            elif message["type"] == "event":
                events += 1
    return {
        "latencies": latencies,
        "gaps": gaps,
        "skipped": skipped,
        "samples": samples,
        "events": events,
        "ended": ended,
    }


async def stream_all(
    base: str, runs: list[dict[str, Any]], cookie: str, seconds: float
) -> list[dict[str, Any]]:
    ws_base = base.replace("http://", "ws://")
    return list(
        await asyncio.gather(
            *(watch(ws_base + run["websocket"], base, cookie, seconds) for run in runs)
        )
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), args.runs)
        return 0

    load_before = os.getloadavg()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="hipec-bench-"))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--runs",
            str(args.runs),
            "--serve",
            str(port),
            str(folder / "b.db"),
        ],
        env=env,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client, csrf = login(base)
        cases = [row["case_number"] for row in client.get("/api/cases").json() if row["synthetic"]]
        started = []
        for case in cases[: args.runs]:
            answer = client.post(
                f"/api/cases/{case}/runs",
                json={"regimen": "dutch-mmc", "speed": SPEED, "unattended": True},
                headers={"X-CSRF-Token": csrf},
            )
            assert answer.status_code == 201, answer.text
            started.append(answer.json())
        cookie = f"hipec_session={client.cookies.get('hipec_session')}"
        results = asyncio.run(stream_all(base, started, cookie, args.seconds))
        for run in started:
            client.post(
                f"/api/cases/{run['case_number']}/live/abort",
                json={"reason": "benchmark over"},
                headers={"X-CSRF-Token": csrf},
            )
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    load_after = os.getloadavg()

    latencies = [x for r in results for x in r["latencies"]]
    lost = sum(r["gaps"] + r["skipped"] for r in results)
    samples = sum(r["samples"] for r in results)
    rate = samples / len(results) / args.seconds
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(
        f"console benchmark: {len(started)} perfusions at x{SPEED:g} (1 s period), one WebSocket "
        f"client each, {args.seconds:g} s, {os.cpu_count()} CPUs"
    )
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"  runs that ended inside the window: {sum(r['ended'] for r in results)}")
    print(
        f"  samples received    {samples} ({rate:.2f} per client per second; events "
        f"{sum(r['events'] for r in results)})"
    )
    print(
        f"  samples lost        {lost} (sequence gaps {sum(r['gaps'] for r in results)}, "
        f"thinned {sum(r['skipped'] for r in results)})"
    )
    print(
        f"  latency [ms]        median {p50 * 1000:.1f}  p95 {p95 * 1000:.1f}  "
        f"max {max(latencies) * 1000:.1f}"
    )
    ok = lost == 0 and p95 <= GOAL_P95_S
    print(f"  goal (no loss, p95 <= {GOAL_P95_S * 1000:.0f} ms): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
