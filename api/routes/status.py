"""Health, index statistics and facet values."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import LiveDep, SearcherDep
from indexer.schemas import Facets, Stats

router = APIRouter(tags=["status"])


class HealthResponse(BaseModel):
    status: Literal["starting", "ready", "degraded"] = Field(
        ...,
        description="starting: loading and warming; ready: answering at full speed; "
        "degraded: the index cannot be served (or only partly), see reason.",
    )
    index_version: str | None = Field(None, description="The version being served, if any.")
    reason: str | None = Field(None, description="Why the service is degraded, and what to do.")


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Starting or degraded."}},
)
def health(live: LiveDep, response: Response) -> HealthResponse:
    """Readiness: 200 once the index and the model are loaded and warm, else 503 with the reason."""
    found = live.health()
    if found.status != "ready":
        response.status_code = 503
    return HealthResponse(status=found.status, index_version=found.version, reason=found.reason)


@router.get("/stats", response_model=Stats)
def stats(searcher: SearcherDep, live: LiveDep) -> Stats:
    """What is being served: version, counts, model, build facts (no server paths)."""
    return Stats(
        **searcher.stats(),
        versions_kept=live.catalog.versions(),
        last_reload_error=live.last_error,
    )


@router.get("/facets", response_model=Facets)
def facets(searcher: SearcherDep) -> Facets:
    """Filter values the index actually holds, with document counts."""
    return Facets(**searcher.facets())
