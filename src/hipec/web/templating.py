"""Jinja2 templates (autoescaped) and the context every page gets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from hipec import __version__
from hipec.clinical.pci import PCI_GRID_LAYOUT, PCI_REGIONS, PCI_SMALL_BOWEL_ROW
from hipec.store.users import ActiveSession
from hipec.web.permissions import Permission, allows

TEMPLATE_DIR = Path(str(resources.files("hipec.web").joinpath("templates")))
templates = Jinja2Templates(directory=TEMPLATE_DIR)
templates.env.globals.update(
    version=__version__,
    pci_regions=PCI_REGIONS,
    pci_grid=PCI_GRID_LAYOUT,
    pci_small_bowel=PCI_SMALL_BOWEL_ROW,
)


def _user(request: Request) -> ActiveSession | None:
    user = getattr(request.state, "user", None)
    return user if isinstance(user, ActiveSession) else None


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render template ``name`` with the page context (user, CSRF token, permissions, demo)."""
    user = _user(request)
    settings = request.app.state.settings
    page: dict[str, Any] = {
        "user": user,
        "csrf_token": user.csrf_token if user else "",
        "can_edit": bool(user and allows(user.role, Permission.EDIT_RECORDS)),
        "can_manage_users": bool(user and allows(user.role, Permission.MANAGE_USERS)),
        "demo": bool(getattr(settings, "demo", False)),
        "path": request.url.path,
    }
    page.update(context or {})
    return templates.TemplateResponse(request, name, page, status_code=status_code, headers=headers)
