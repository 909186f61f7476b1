"""Live perfusions, their WebSocket stream, the procedure report and the plan's simulation.

Pages (``READ``): ``/perfusions`` (every live run), ``/cases/{case}/live`` (the console of the
case's perfusion; ``?run=`` picks one), ``/cases/{case}/report`` (the report in the console, with
``report.html`` and ``report.pdf`` downloads).

API: ``POST /api/cases/{case}/runs`` starts a simulated perfusion and ``POST
/api/cases/{case}/live/<action>`` steers it (``RUN_PERFUSION``, CSRF token); ``GET /api/runs``,
``GET /api/cases/{case}/live`` and ``POST /api/plan/simulate`` (a calculation) need ``READ``.

WebSocket ``/ws/runs/{run_id}`` (``READ``): authenticated by the session cookie, and only from a
page of this console (the ``Origin`` header must name this host); the messages are those of
:mod:`hipec.web.live`. The session is checked again every :data:`SESSION_RECHECK_S` seconds: a
client whose session ended (logout, idle, account disabled) is disconnected (close code 1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from hipec.clinical.anthropometry import BsaFormula
from hipec.devices.faults import FAULT_EFFECTS, FAULT_NAMES
from hipec.errors import InvalidInputError, NotFoundError
from hipec.protocols import get_regimen, plan_perfusion
from hipec.protocols.schema import Technique
from hipec.reports.region_map import PALETTES, _text_colour, interpolate_colour, region_cells
from hipec.store.repository import get_case
from hipec.store.users import ActiveSession, lookup_session
from hipec.web import services
from hipec.web.deps import (
    engine_of,
    require_read,
    require_run_perfusion,
    unit_of_work,
    web_settings,
)
from hipec.web.live import (
    MAX_FAULTS,
    MAX_SPEED,
    MIN_SPEED,
    LiveRun,
    LiveRuns,
    StartRequest,
    parse_fault,
    speed_label,
)
from hipec.web.permissions import Permission, allows
from hipec.web.security import SESSION_COOKIE
from hipec.web.templating import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["perfusion"])
sockets = APIRouter()

Reader = Annotated[ActiveSession, Depends(require_read)]
Operator = Annotated[ActiveSession, Depends(require_run_perfusion)]

#: Seconds between two checks that a WebSocket client's session is still valid.
SESSION_RECHECK_S = 30.0
#: The live map's colour scale [C] (the temperature palette of the report's maps).
MAP_SCALE_C = (36.0, 44.0)


def live_runs(request: Request | WebSocket) -> LiveRuns:
    """The app's run manager."""
    runs = request.app.state.live_runs
    assert isinstance(runs, LiveRuns)
    return runs


# -- bodies --------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FaultBody(_Body):
    """A fault injected for training."""

    name: Literal[FAULT_NAMES]  # type: ignore[valid-type]
    onset_min: float = Field(ge=0, le=240, allow_inf_nan=False)
    magnitude: float | None = Field(None, gt=0, allow_inf_nan=False)


class StartRunBody(_Body):
    """A simulated perfusion to start."""

    regimen: Annotated[str, Field(min_length=1, max_length=64)]
    technique: Technique | None = None
    speed: float | Literal["max"] = Field(
        10.0,
        description=f"Clock factor {MIN_SPEED:g}-{MAX_SPEED:g}, or 'max' (as fast as possible).",
    )
    unattended: bool = Field(
        True, description="Phases advance and doses are confirmed without the operator."
    )
    duration_min: float | None = Field(
        None, ge=1, le=240, allow_inf_nan=False, description="Training: perfusion duration [min]."
    )
    faults: list[FaultBody] = Field(default_factory=list, max_length=MAX_FAULTS)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class AbortBody(_Body):
    """Why the perfusion is aborted."""

    reason: Annotated[str, Field(max_length=200)] | None = None


class DoseBody(_Body):
    """Which drug's due dose is confirmed (default: the earliest due)."""

    drug: Annotated[str, Field(max_length=64)] | None = None


class AcknowledgeBody(_Body):
    """Which alarms are acknowledged (default: all)."""

    code: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(max_length=64)] | None = None


class SimulateBody(_Body):
    """A plan to simulate on the digital twin."""

    regimen: Annotated[str, Field(min_length=1, max_length=64)]
    height_cm: float = Field(allow_inf_nan=False)
    weight_kg: float = Field(allow_inf_nan=False)
    bsa_formula: BsaFormula = "mosteller"
    technique: Technique | None = None


# -- helpers -------------------------------------------------------------------------------------


def _regimen(regimen_id: str) -> Any:
    try:
        return get_regimen(regimen_id)
    except NotFoundError as exc:  # a field of the request, not a missing page: 422
        raise InvalidInputError("regimen", exc.message) from None


def _run_of(runs: LiveRuns, case_number: str, run: int | None) -> LiveRun:
    live = runs.get(run) if run is not None else runs.for_case(case_number)
    if live is None or live.case_number != case_number:
        which = f"run {run}" if run is not None else "a perfusion"
        raise NotFoundError("run", f"case {case_number} has no {which} in this console")
    return live


def map_colour_scale(steps: int = 81) -> list[list[str]]:
    """``[fill, text colour]`` at ``steps`` even steps over :data:`MAP_SCALE_C` (the report
    maps' temperature palette, so the live map and the report colour alike)."""
    palette = PALETTES["temperature"]
    scale = []
    for i in range(steps):
        fill = interpolate_colour(palette, i / (steps - 1))
        scale.append([fill, _text_colour(fill)])
    return scale


def _map_cells() -> list[dict[str, Any]]:
    px = 150.0
    return [
        {
            "index": c.index,
            "name": c.name,
            "x": round(c.x * px, 1),
            "y": round(c.y * px, 1),
            "w": round(c.width * px, 1),
            "h": round(c.height * px, 1),
            "bowel": c.index >= 9,
        }
        for c in region_cells()
    ]


# -- pages ---------------------------------------------------------------------------------------


@pages.get("/perfusions")
def perfusions_page(request: Request, user: Reader) -> Response:
    """Every perfusion of this console, running ones first."""
    runs = live_runs(request).all()
    runs.sort(key=lambda r: (not r.running, -r.run_id))
    return render(request, "perfusions.html", {"runs": [r.describe() for r in runs]})


@pages.get("/cases/{case_number}/live")
def live_page(request: Request, case_number: str, user: Reader, run: int | None = None) -> Response:
    """The live console of the case's perfusion (or, for operators, the form to start one)."""
    runs = live_runs(request)
    live = runs.get(run) if run is not None else runs.for_case(case_number)
    if live is not None and live.case_number != case_number:
        live = None
    if run is not None and live is None:
        raise NotFoundError("run", f"case {case_number} has no run {run} in this console")
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        context = {
            "patient": patient,
            "run": live.describe() if live is not None else None,
            "can_run": allows(user.role, Permission.RUN_PERFUSION),
            "regimens": services.regimen_choices(),
            "faults": [(name, FAULT_EFFECTS[name]) for name in FAULT_NAMES],
            "max_faults": MAX_FAULTS,
            "map_cells": _map_cells(),
            "map_scale": {"low": MAP_SCALE_C[0], "high": MAP_SCALE_C[1]},
            "map_colours": map_colour_scale(),
            "speed_label": speed_label,
        }
        return render(request, "live.html", context)


@pages.get("/cases/{case_number}/report")
def report_page(
    request: Request, case_number: str, user: Reader, run: int | None = None
) -> Response:
    """The case's procedure report in the console, with HTML and PDF downloads."""
    with unit_of_work(request) as session:
        patient = get_case(session, case_number)
        runs = sorted(patient.runs, key=lambda r: r.id, reverse=True)
        if run is not None and all(r.id != run for r in runs):
            raise NotFoundError("run", f"case {case_number} has no run {run}")
        chosen = run if run is not None else (runs[0].id if runs else None)
        return render(
            request,
            "report_page.html",
            {
                "patient": patient,
                "runs": [
                    {
                        "id": r.id,
                        "status": r.status,
                        "started_at": r.started_at,
                        "regimen": r.regimen_id,
                    }
                    for r in runs
                ],
                "chosen": chosen,
                "query": f"?run={chosen}" if chosen is not None else "",
            },
        )


_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _report_filename(case_number: str, run: int | None, suffix: str) -> str:
    name = _FILENAME_UNSAFE.sub("_", case_number)
    return f"hipec-report-{name}{f'-run{run}' if run is not None else ''}.{suffix}"


#: The report document may be framed by the console's own report page, nothing else; it runs no
#: script and loads nothing (inline CSS and SVG).
REPORT_DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


@pages.get("/cases/{case_number}/report.html")
def report_html(
    request: Request, case_number: str, user: Reader, run: int | None = None, download: bool = False
) -> Response:
    """The report as one self-contained HTML document (``?download=true`` to save it)."""
    from hipec.reports.html import render_html
    from hipec.reports.report import build_report

    with unit_of_work(request) as session:
        html = render_html(build_report(session, case_number, run_id=run))
    headers = {
        "Content-Security-Policy": REPORT_DOCUMENT_CSP,
        "X-Frame-Options": "SAMEORIGIN",
    }
    if download:
        filename = _report_filename(case_number, run, "html")
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return HTMLResponse(html, headers=headers)


@pages.get("/cases/{case_number}/report.pdf")
def report_pdf(
    request: Request, case_number: str, user: Reader, run: int | None = None
) -> Response:
    """The report as a PDF download."""
    from hipec.reports.pdf import render_pdf
    from hipec.reports.report import build_report

    with unit_of_work(request) as session:
        pdf = render_pdf(build_report(session, case_number, run_id=run))
    filename = _report_filename(case_number, run, "pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- API -----------------------------------------------------------------------------------------


@api.get("/runs")
def list_runs(request: Request, user: Reader) -> list[dict[str, Any]]:
    """The perfusions of this console (running and recently ended), newest first."""
    return [r.describe() for r in live_runs(request).all()]


@api.post("/cases/{case_number}/runs", status_code=201)
def start_run(
    request: Request, case_number: str, body: StartRunBody, user: Operator
) -> dict[str, Any]:
    """Start a simulated perfusion for the case; it is recorded with the case as it runs."""
    _regimen(body.regimen)
    start = StartRequest(
        case_number=case_number,
        regimen=body.regimen,
        technique=body.technique,
        speed=None if body.speed == "max" else float(body.speed),
        unattended=body.unattended,
        duration_min=body.duration_min,
        faults=tuple(parse_fault(f.name, f.onset_min, f.magnitude) for f in body.faults),
        seed=body.seed,
        actor=user.username,
    )
    return live_runs(request).start(start).describe()


@api.get("/cases/{case_number}/live")
def live_state(
    request: Request, case_number: str, user: Reader, run: int | None = None
) -> dict[str, Any]:
    """The ``hello`` of the case's perfusion: what it is, chart, events, latest sample."""
    return _run_of(live_runs(request), case_number, run).snapshot()


def _action(
    request: Request, case_number: str, run: int | None, action: str, **arguments: Any
) -> dict[str, Any]:
    live = _run_of(live_runs(request), case_number, run)
    return {"run_id": live.run_id, "action": action, "events": live.act(action, **arguments)}


@api.post("/cases/{case_number}/live/next-phase")
def next_phase(
    request: Request, case_number: str, user: Operator, run: int | None = None
) -> dict[str, Any]:
    """Ask for the next phase (422 with the reason if its guard is not met)."""
    return _action(request, case_number, run, "next-phase")


@api.post("/cases/{case_number}/live/pause")
def pause(
    request: Request, case_number: str, user: Operator, run: int | None = None
) -> dict[str, Any]:
    """Pause the procedure (the timer stops; the machine keeps its setpoints)."""
    return _action(request, case_number, run, "pause")


@api.post("/cases/{case_number}/live/resume")
def resume(
    request: Request, case_number: str, user: Operator, run: int | None = None
) -> dict[str, Any]:
    """Resume after a pause."""
    return _action(request, case_number, run, "resume")


@api.post("/cases/{case_number}/live/abort")
def abort(
    request: Request,
    case_number: str,
    user: Operator,
    body: AbortBody | None = None,
    run: int | None = None,
) -> dict[str, Any]:
    """Abort the perfusion: heater off, pumps stopped; recorded with the reason and the user."""
    given = body.reason if body is not None and body.reason else "aborted by the operator"
    return _action(request, case_number, run, "abort", reason=f"{given} ({user.username})")


@api.post("/cases/{case_number}/live/confirm-dose")
def confirm_dose(
    request: Request,
    case_number: str,
    user: Operator,
    body: DoseBody | None = None,
    run: int | None = None,
) -> dict[str, Any]:
    """Confirm the due dose: it goes into the reservoir now (422 if none is due)."""
    drug = body.drug if body is not None else None
    return _action(request, case_number, run, "confirm-dose", drug=drug)


@api.post("/cases/{case_number}/live/acknowledge")
def acknowledge(
    request: Request,
    case_number: str,
    user: Operator,
    body: AcknowledgeBody | None = None,
    run: int | None = None,
) -> dict[str, Any]:
    """Acknowledge alarms (all, or by code / source); latched safe states whose condition has
    cleared are reset."""
    code = body.code if body is not None else None
    source = body.source if body is not None else None
    return _action(request, case_number, run, "acknowledge", code=code, source=source)


@api.post("/cases/{case_number}/live/silence")
def silence(
    request: Request, case_number: str, user: Operator, run: int | None = None
) -> dict[str, Any]:
    """Pause the audio of the active alarms."""
    return _action(request, case_number, run, "silence")


_SIMULATION_SLOT = threading.Semaphore(1)
#: Seconds a plan simulation waits for another to finish before the request is refused.
SIMULATION_WAIT_S = 60.0
#: Points per curve sent to the plan page.
SIMULATION_POINTS = 400


@api.post("/plan/simulate")
def simulate_plan(body: SimulateBody, user: Reader) -> dict[str, Any]:
    """Simulate the plan on the digital twin (cascade controller, unattended): the expected
    temperatures and drug concentrations over time. A calculation: nothing is stored."""
    from hipec.runner import RunConfig, simulated_run, simulation_report

    plan = plan_perfusion(
        _regimen(body.regimen),
        height_cm=body.height_cm,
        weight_kg=body.weight_kg,
        bsa_formula=body.bsa_formula,
        technique=body.technique,
    )
    if not _SIMULATION_SLOT.acquire(timeout=SIMULATION_WAIT_S):
        raise InvalidInputError("simulation", "another simulation is running; try again shortly")
    try:
        # a 5 s control period: the same twin, about five times fewer steps than the machine's 1 s
        result = simulated_run(plan, RunConfig(control_period_s=5.0), seed=0).run()
    finally:
        _SIMULATION_SLOT.release()
    trace = result.trace
    report = simulation_report(result, plan)
    if trace is None or not trace.time_s.size:
        raise InvalidInputError("simulation", "the simulation produced no samples")
    step = max(1, trace.time_s.size // SIMULATION_POINTS)

    def series(values: Any) -> list[float | None]:
        return [None if v != v else round(float(v), 3) for v in values[::step]]

    return {
        "plan": plan.to_dict(),
        "time_min": series(trace.time_s / 60.0),
        "temperatures_c": {
            "inflow": series(trace.inflow_c),
            "outflow": series(trace.outflow_c),
            "abdomen_mean": series(trace.region_c.mean(axis=1)),
            "abdomen_max": series(trace.region_c.max(axis=1)),
            "abdomen_min": series(trace.region_c.min(axis=1)),
            "core": series(trace.core_c),
        },
        "perfusate_mg_l": {
            drug: series(trace.perfusate_mg_l[:, i]) for i, drug in enumerate(trace.drugs)
        },
        "plasma_mg_l": {
            drug: series(trace.plasma_mg_l[:, i]) for i, drug in enumerate(trace.drugs)
        },
        "report": report,
        "source": "digital twin (model estimate), cascade controller, unattended",
    }


# -- WebSocket -----------------------------------------------------------------------------------


def _origin_allowed(websocket: WebSocket) -> bool:
    """Only pages of this console may open the stream (browsers always send ``Origin``)."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host or origin == "null":
        return False
    parts = urlsplit(origin)
    scheme = {"ws": "http", "wss": "https"}.get(websocket.url.scheme, websocket.url.scheme)
    return parts.scheme == scheme and parts.netloc == host


def _session_of(websocket: WebSocket) -> ActiveSession | None:
    from hipec.store.db import transaction

    token = websocket.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    settings = web_settings(websocket)  # type: ignore[arg-type]
    with transaction(engine_of(websocket)) as session:  # type: ignore[arg-type]
        return lookup_session(session, token, idle_timeout=settings.session_idle_timeout)


def require_socket(permission: Permission) -> Callable[[WebSocket], Awaitable[ActiveSession]]:
    """A WebSocket dependency: same-origin, a valid session cookie, and ``permission``; otherwise
    the handshake is refused (HTTP 403, close code 1008)."""

    async def dependency(websocket: WebSocket) -> ActiveSession:
        if not _origin_allowed(websocket):
            raise WebSocketException(code=1008, reason="cross-site or missing Origin refused")
        user = await run_in_threadpool(_session_of, websocket)
        if user is None:
            raise WebSocketException(code=1008, reason="log in first")
        if not allows(user.role, permission):
            raise WebSocketException(code=1008, reason="your role does not allow this")
        return user

    dependency.required_permission = permission  # type: ignore[attr-defined]  # role matrix
    dependency.__name__ = f"require_socket_{permission.name.lower()}"
    return dependency


socket_reader = require_socket(Permission.READ)


@sockets.websocket("/ws/runs/{run_id}")
async def run_stream(
    websocket: WebSocket,
    run_id: int,
    user: Annotated[ActiveSession, Depends(socket_reader)],
) -> None:
    """The live stream of one run: ``hello``, then samples, events and the end."""
    live = live_runs(websocket).get(run_id)
    if live is None:
        raise WebSocketException(code=1008, reason=f"no run {run_id} in this console")
    await websocket.accept()
    subscriber, hello = live.subscribe()
    try:
        await websocket.send_text(json.dumps(hello, separators=(",", ":")))
        if hello["end"] is not None:
            await websocket.close(1000)
            return

        async def pump() -> None:
            checked = time.monotonic()
            while True:
                try:
                    item = await asyncio.wait_for(subscriber.next_item(), SESSION_RECHECK_S)
                except TimeoutError:
                    item = ("idle", "")
                if time.monotonic() - checked >= SESSION_RECHECK_S:
                    checked = time.monotonic()
                    still = await run_in_threadpool(_session_of, websocket)
                    if still is None or still.session_id != user.session_id:
                        await websocket.close(1008, "the session has ended")
                        return
                if item is None:
                    await websocket.close(1013, "too slow: reconnect for a fresh start")
                    return
                kind, text = item
                if kind == "idle":
                    continue
                await websocket.send_text(text)
                if kind == "end":
                    await websocket.close(1000)
                    return

        async def listen() -> None:
            # clients send nothing we act on; this notices when they go away
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

        tasks = {asyncio.ensure_future(pump()), asyncio.ensure_future(listen())}
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                task.result()
    except WebSocketDisconnect:
        pass
    finally:
        live.unsubscribe(subscriber)
