"""Health, index statistics and facet values."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LiveDep, SearcherDep

router = APIRouter(tags=["status"])


@router.get("/health")
def health(live: LiveDep) -> dict[str, object]:
    """Liveness plus whether an index is being served (200 either way)."""
    version = live.index_dir.current_name()
    return {"status": "ok", "index_version": version, "index_loaded": version is not None}


@router.get("/stats")
def stats(searcher: SearcherDep, live: LiveDep) -> dict[str, object]:
    """What is being served: version, counts, model, build facts."""
    out = searcher.stats()
    out["versions_kept"] = live.index_dir.versions()
    out["last_reload_error"] = live.last_error
    return out


@router.get("/facets")
def facets(searcher: SearcherDep) -> dict[str, list[dict[str, object]]]:
    """Filter values the index actually holds, with document counts."""
    return searcher.facets()
