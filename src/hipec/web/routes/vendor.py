"""Third-party browser code served from its installed Python package, never copied into hipec.

``/vendor/plotly.min.js`` is the plotly.js bundle that the ``plotly`` package (a dependency)
ships as package data.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)


@cache
def plotly_js_path() -> Path:
    """The installed plotly.min.js."""
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """The charting library (public: it is the published bundle, no data)."""
    return FileResponse(
        plotly_js_path(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
