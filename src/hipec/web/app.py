"""The application factory: ``create_app(settings)``.

Layout (FastAPI full-stack template style): thin routes in :mod:`hipec.web.routes`, the
session, user and permission checks in :mod:`hipec.web.deps`, settings from the environment in
:mod:`hipec.web.config`. Pages and the API share the same services; errors become HTML pages for
the browser and ``{"detail": [...]}`` JSON under ``/api``:

- :class:`~hipec.errors.InvalidInputError` -> 422 ``{"detail": [{"loc", "msg", "type"}]}``
  (:class:`~hipec.errors.NotFoundError` -> 404, same shape);
- no session -> 401 (API) or a redirect to ``/login`` (pages); not allowed -> 403.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hipec import __version__
from hipec.errors import InvalidInputError, NotFoundError
from hipec.store.db import open_database
from hipec.web.config import WebSettings, get_web_settings
from hipec.web.live import LiveRuns, start_demo_perfusion
from hipec.web.routes import api, auth_pages, pages, runs, vendor
from hipec.web.security import SECURITY_HEADERS, LoginThrottle
from hipec.web.templating import render

STATIC_DIR = Path(str(resources.files("hipec.web").joinpath("static")))
API_PREFIX = "/api"
#: Routes anyone may reach without logging in (the role-matrix test checks this list).
PUBLIC_PATHS: frozenset[str] = frozenset({"/login", "/healthz", "/static", "/vendor/plotly.min.js"})


def _is_api(request: Request) -> bool:
    return request.url.path == API_PREFIX or request.url.path.startswith(API_PREFIX + "/")


def _field_loc(field: str) -> list[str]:
    # "clinical: performance_status" and "a.b" both become path parts
    parts = field.replace(": ", ".").split(".")
    return [part.strip() for part in parts if part.strip()] or ["(document)"]


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInputError)
    status = 404 if isinstance(exc, NotFoundError) else 422
    if _is_api(request):
        detail = [{"loc": _field_loc(exc.field), "msg": exc.message, "type": "invalid_input"}]
        return JSONResponse({"detail": detail}, status_code=status)
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": "Not found" if status == 404 else "Not accepted",
            "message": str(exc),
        },
        status_code=status,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if _is_api(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    if exc.status_code == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed", 429: "Too many attempts"}
    return render(
        request,
        "error.html",
        {
            "status": exc.status_code,
            "title": titles.get(exc.status_code, "Error"),
            "message": str(exc.detail),
        },
        status_code=exc.status_code,
        headers=headers,
    )


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if _is_api(request):
        return JSONResponse({"detail": errors}, status_code=422)
    message = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors)
    return render(
        request,
        "error.html",
        {"status": 422, "title": "Not accepted", "message": message},
        status_code=422,
    )


def create_app(settings: WebSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the console.

    Parameters
    ----------
    settings
        The console settings (default: read from the environment).
    engine
        A database engine to use (default: open ``settings``' database, refused unless it is at
        the newest schema revision; run ``hipec db upgrade`` first).
    """
    settings = settings or get_web_settings()
    owned_engine = engine is None
    database = engine or open_database(settings.resolved_database_url())

    live_runs = LiveRuns(database, max_runs=settings.max_live_runs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from hipec.runner.threads import limit_blas_threads

        limit_blas_threads()  # perfusions step the twin in this process: one BLAS thread each
        live_runs.attach(asyncio.get_running_loop())
        if settings.demo:
            demo = await run_in_threadpool(start_demo_perfusion, live_runs)
            if demo is not None:
                print(  # beside the address that hipec serve prints
                    f"demo perfusion running ({demo.describe()['speed_label']}): "
                    f"/cases/{demo.case_number}/live",
                    flush=True,
                )
        yield
        await run_in_threadpool(live_runs.shutdown)
        if owned_engine:
            database.dispose()

    app = FastAPI(
        title="hipec console",
        version=__version__,
        description="CRS + HIPEC planning and records. Research and training software, not a "
        "medical device. Every route needs a logged-in session (cookie) except /login; "
        "state-changing requests need the session's CSRF token in the X-CSRF-Token header.",
        openapi_url=None,  # served behind login by hipec.web.routes.api
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = database
    app.state.live_runs = live_runs
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures, settings.login_window_seconds
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(("/static/", "/vendor/")):
            # records and tokens must not sit in shared or disk caches
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    handlers: dict[Any, Any] = {
        InvalidInputError: _invalid_input,
        StarletteHTTPException: _http_error,
        RequestValidationError: _request_invalid,
    }
    for exception, handler in handlers.items():
        app.add_exception_handler(exception, handler)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(vendor.router)
    app.include_router(auth_pages.router)
    app.include_router(pages.router)
    app.include_router(runs.pages)
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(runs.api, prefix=API_PREFIX)
    app.include_router(runs.sockets)
    return app
