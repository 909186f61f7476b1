"""The live perfusion console: run manager, operator API, WebSocket stream and its security.

Two perfusions on private consoles: one accelerated (x60, a 5 min training perfusion with a
disconnected probe) streamed to a viewer to its end; one in real time, attended, steered and
aborted. Plus the flow control of :class:`hipec.web.live.Subscriber` without a server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from sqlalchemy import select
from webhelpers import KNOWN_CASE, LiveServer, Session, logged_in

from hipec.errors import InvalidInputError
from hipec.store.db import transaction
from hipec.store.models import Patient, PerfusionRun
from hipec.web.live import StartRequest, Subscriber, parse_fault
from hipec.web.routes import runs as runs_routes

FAST_RUN = {
    "regimen": "dutch-mmc",
    "speed": 60,
    "duration_min": 5,
    "unattended": True,
    "faults": [{"name": "probe-disconnected", "onset_min": 2}],
}


# -- flow control, no server -----------------------------------------------------------------------


def test_a_slow_client_loses_samples_never_events() -> None:
    async def scenario() -> list[Any]:
        subscriber = Subscriber(after_seq=2, max_pending_samples=3, max_pending_messages=100)
        subscriber.offer(2, "event", "old")  # already in the hello: not repeated
        for seq in range(3, 13):
            subscriber.offer(seq, "sample", f"s{seq}")
        subscriber.offer(13, "event", "e13")
        subscriber.offer(14, "end", "end")
        taken = []
        while not subscriber.queue.empty():
            taken.append(await subscriber.next_item())
        # the client caught up: the next sample goes out, after a note of what it missed
        subscriber.offer(15, "sample", "s15")
        taken.append(await subscriber.next_item())
        taken.append(await subscriber.next_item())
        return taken

    taken = asyncio.run(scenario())
    assert taken[:3] == [("sample", "s3"), ("sample", "s4"), ("sample", "s5")]
    assert taken[3:5] == [("event", "e13"), ("end", "end")]
    assert taken[5] == ("skipped", json.dumps({"type": "skipped", "count": 7}))
    assert taken[6] == ("sample", "s15")


def test_a_client_that_cannot_take_events_is_disconnected() -> None:
    async def scenario() -> tuple[bool, Any]:
        subscriber = Subscriber(after_seq=0, max_pending_samples=10, max_pending_messages=5)
        for seq in range(1, 10):
            subscriber.offer(seq, "event", f"e{seq}")
        items = [await subscriber.next_item() for _ in range(subscriber.queue.qsize())]
        return subscriber.overflowed, items[-1]

    overflowed, last = asyncio.run(scenario())
    assert overflowed and last is None


@pytest.mark.parametrize("speed", [0.5, 61.0, float("nan")])
def test_speed_outside_1_to_60_is_refused(speed: float) -> None:
    with pytest.raises(InvalidInputError) as refused:
        StartRequest(KNOWN_CASE, "dutch-mmc", None, speed, True, None, (), 0, "x")
    assert refused.value.field == "speed" and "1-60 or 'max'" in refused.value.message


def test_fault_fields_are_checked() -> None:
    assert parse_fault("leak", 2.5).onset_s == 150.0
    with pytest.raises(InvalidInputError, match="must be one of"):
        parse_fault("gremlins", 1)
    with pytest.raises(InvalidInputError, match="0-240 min"):
        parse_fault("leak", 241)
    with pytest.raises(InvalidInputError, match="at most 5 faults"):
        StartRequest(
            KNOWN_CASE, "dutch-mmc", None, 10, True, None, (parse_fault("leak", 1),) * 6, 0, "x"
        )


# -- through a real server --------------------------------------------------------------------


def _ws_url(server: LiveServer, run: dict[str, Any]) -> str:
    return server.base_url.replace("http://", "ws://") + run["websocket"]


def _cookie(session: Session) -> dict[str, str]:
    return {"Cookie": f"hipec_session={session.client.cookies.get('hipec_session')}"}


async def _refused(url: str, **options: Any) -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, open_timeout=10, **options):
            pass
    return int(refused.value.response.status_code)


def test_an_accelerated_perfusion_streams_to_a_viewer_and_is_recorded(
    fresh_live: Callable[..., LiveServer],
) -> None:
    server = fresh_live()
    operator, viewer = logged_in(server, "perfusionist"), logged_in(server, "viewer")
    case = f"/api/cases/{KNOWN_CASE}"
    try:
        # a viewer may not start or steer; nobody may without the CSRF token
        assert viewer.post_json(f"{case}/runs", FAST_RUN).status_code == 403
        assert operator.post_json(f"{case}/runs", FAST_RUN, csrf="").status_code == 403
        refused = operator.post_json(f"{case}/runs", {**FAST_RUN, "speed": 0})
        assert refused.status_code == 422 and "speed" in refused.text
        unknown = operator.post_json(f"{case}/runs", {**FAST_RUN, "regimen": "nope"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["regimen"]
        started = operator.post_json(f"{case}/runs", FAST_RUN)
        assert started.status_code == 201, started.text
        run = started.json()
        assert run["speed_label"] == "x60" and run["faults"][0]["name"] == "probe-disconnected"
        again = operator.post_json(f"{case}/runs", FAST_RUN)
        assert again.status_code == 422 and "already has a perfusion running" in again.text

        url = _ws_url(server, run)
        headers = _cookie(viewer)

        async def watch() -> dict[str, Any]:
            assert await _refused(url, additional_headers=headers) == 403  # no Origin
            evil = {"origin": "https://evil.example", "additional_headers": headers}
            assert await _refused(url, **evil) == 403
            assert await _refused(url, origin=server.base_url) == 403  # no session
            seen: dict[str, Any] = {"gaps": 0, "samples": 0, "kinds": [], "acked": None}
            async with websockets.connect(
                url, origin=server.base_url, additional_headers=headers, open_timeout=10
            ) as socket:
                hello = json.loads(await socket.recv())
                assert hello["type"] == "hello" and hello["run"]["run_id"] == run["run_id"]
                last = hello["last_seq"]
                async for text in socket:
                    message = json.loads(text)
                    if message["seq"] != last + 1:
                        seen["gaps"] += 1
                    last = message["seq"]
                    if message["type"] == "sample":
                        seen["samples"] += 1
                        seen["sample"] = message
                    elif message["type"] == "event":
                        seen["kinds"].append(message["kind"])
                        if message["kind"] == "alarm.raised" and seen["acked"] is None:
                            # the viewer sees it; only the operator may acknowledge it
                            denied = await asyncio.to_thread(
                                viewer.post_json, f"{case}/live/acknowledge", {}
                            )
                            assert denied.status_code == 403
                            seen["acked"] = await asyncio.to_thread(
                                operator.post_json, f"{case}/live/acknowledge", {}
                            )
                    elif message["type"] == "end":
                        seen["end"] = message
            return seen

        seen = asyncio.run(watch())
        assert seen["gaps"] == 0 and seen["samples"] > 50
        assert seen["acked"].status_code == 200
        assert any(e["kind"] == "alarm.acknowledged" for e in seen["acked"].json()["events"])
        assert "alarm.raised" in seen["kinds"] and "alarm.acknowledged" in seen["kinds"]
        assert "dose.confirmed" in seen["kinds"]
        assert seen["end"]["status"] == "completed"
        sample = seen["sample"]
        assert len(sample["regions_model_c"]) == 13 and sample["probe_regions"]
        assert None in sample["temperatures_c"]["cavity"]  # the disconnected probe reads nothing
        # after the end: actions are refused, the state and the record remain
        ended = operator.post_json(f"{case}/live/pause", {})
        assert ended.status_code == 422 and "has ended" in ended.text
        state = viewer.client.get(f"{case}/live").json()
        assert state["end"]["status"] == "completed" and state["chart"]
        with transaction(server.engine) as session:
            patient = session.scalar(select(Patient).where(Patient.case_number == KNOWN_CASE))
            assert patient is not None
            record = session.get(PerfusionRun, run["run_id"])
            assert record is not None and record.patient_id == patient.id
            assert record.status == "completed"
        page = viewer.client.get(f"/cases/{KNOWN_CASE}/live")
        assert page.status_code == 200 and 'id="btn-next"' not in page.text
        assert "Read-only view" in page.text
    finally:
        operator.close()
        viewer.close()


def test_an_attended_perfusion_is_steered_refused_and_aborted(
    fresh_live: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_routes, "SESSION_RECHECK_S", 0.5)
    server = fresh_live(max_live_runs=1)  # HIPEC_MAX_LIVE_RUNS
    surgeon, viewer = logged_in(server, "surgeon"), logged_in(server, "viewer")
    case = f"/api/cases/{KNOWN_CASE}"
    try:
        body = {"regimen": "elias-oxaliplatin", "speed": 1, "unattended": False}
        run = surgeon.post_json(f"{case}/runs", body).json()
        # one perfusion at a time in this console
        with transaction(server.engine) as session:
            other = session.scalar(
                select(Patient.case_number).where(Patient.case_number != KNOWN_CASE).limit(1)
            )
        full = surgeon.post_json(f"/api/cases/{other}/runs", body)
        assert full.status_code == 422 and "at most 1 perfusions" in full.text
        page = surgeon.client.get(f"/cases/{KNOWN_CASE}/live")
        assert 'id="btn-next"' in page.text and 'id="btn-abort"' in page.text
        no_dose = surgeon.post_json(f"{case}/live/confirm-dose", {})
        assert no_dose.status_code == 422 and no_dose.json()["detail"][0]["loc"] == ["dose"]
        paused = surgeon.post_json(f"{case}/live/pause", {})
        assert [e["kind"] for e in paused.json()["events"]] == ["procedure.paused"]
        refused = surgeon.post_json(f"{case}/live/next-phase", {})
        assert refused.status_code == 422 and "paused" in refused.text
        assert surgeon.post_json(f"{case}/live/resume", {}).status_code == 200
        assert surgeon.post_json(f"{case}/live/silence", {}).status_code == 200
        assert viewer.post_json(f"{case}/live/abort", {}).status_code == 403

        async def logged_out_viewer_is_cut_off() -> int | None:
            async with websockets.connect(
                _ws_url(server, run), origin=server.base_url, additional_headers=_cookie(viewer)
            ) as socket:
                assert json.loads(await socket.recv())["type"] == "hello"
                out = await asyncio.to_thread(
                    viewer.client.post, "/logout", data={"csrf_token": viewer.csrf}
                )
                assert out.status_code == 303
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(socket.recv(), 2)
                    except websockets.ConnectionClosed:
                        break
                return socket.close_code

        assert asyncio.run(logged_out_viewer_is_cut_off()) == 1008
        aborted = surgeon.post_json(f"{case}/live/abort", {"reason": "training drill"})
        assert aborted.status_code == 200
        assert any("training drill (surgeon)" in e["message"] for e in aborted.json()["events"])
        live = server.server.config.app.state.live_runs.get(run["run_id"])
        assert live.finished.wait(20)
        assert live.status == "aborted"
        with transaction(server.engine) as session:
            record = session.get(PerfusionRun, run["run_id"])
            assert record is not None and record.status == "aborted"
            assert "training drill" in (record.end_reason or "")
        listed = surgeon.client.get("/api/runs").json()
        assert [r["status"] for r in listed] == ["aborted"]
    finally:
        surgeon.close()
        viewer.close()


def test_the_plan_simulation_gives_curves_to_every_role(live: LiveServer) -> None:
    viewer = logged_in(live, "viewer")
    try:
        body = {"regimen": "elias-oxaliplatin", "height_cm": 170, "weight_kg": 70}
        answer = viewer.post_json("/api/plan/simulate", body)
        assert answer.status_code == 200, answer.text
        sim = answer.json()
        temps = sim["temperatures_c"]
        assert len(sim["time_min"]) == len(temps["inflow"]) > 50
        assert max(v for v in temps["abdomen_max"] if v is not None) > 40
        assert "oxaliplatin" in sim["perfusate_mg_l"] and "model estimate" in sim["source"]
        bad = viewer.post_json("/api/plan/simulate", {**body, "regimen": "nope"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["regimen"]
    finally:
        viewer.close()


def test_reports_are_served_to_readers(as_role: Callable[[str], Session]) -> None:
    viewer = as_role("viewer")
    page = viewer.client.get(f"/cases/{KNOWN_CASE}/report")
    assert page.status_code == 200 and "report.pdf" in page.text
    document = viewer.client.get(f"/cases/{KNOWN_CASE}/report.html?download=true")
    assert document.status_code == 200
    assert "frame-ancestors 'self'" in document.headers["content-security-policy"]
    assert "script" not in document.headers["content-security-policy"]
    assert document.headers["content-disposition"].startswith("attachment")
    assert viewer.client.get(f"/cases/{KNOWN_CASE}/report?run=999999").status_code == 404
    assert viewer.client.get("/cases/NOPE/report.pdf").status_code == 404
