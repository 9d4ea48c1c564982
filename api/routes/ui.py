"""The search page: ``/`` serves ``api/static/index.html``; its assets live under ``/static``.

The page is plain HTML, CSS and an ES module (no build step, nothing fetched from
outside the machine); it talks to the JSON API of the same service.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# The page loads only its own script and stylesheet and talks only to this service.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["ui"])


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index() -> FileResponse:
    """The search page; searches, filters and the document view all live in its URL."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)


def static_files() -> StaticFiles:
    """The page's assets (``app.js``, ``style.css``), mounted at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)
