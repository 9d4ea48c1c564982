"""Admin: start a re-index run in the background and follow its progress.

Off unless ``GOVSPEECH_ADMIN_TOKEN`` is set (then 404, as if absent); callers
send ``Authorization: Bearer <token>``: none gives 401, a wrong one 403, and
neither starts or reveals anything.
"""

from __future__ import annotations

import hmac
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.deps import LiveDep, SettingsDep
from indexer.build import BuildError, build_index
from indexer.versions import IndexLocked

router = APIRouter(prefix="/admin", tags=["admin"])


def require_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    if not settings.admin_token:
        raise HTTPException(status_code=404, detail="admin endpoints are off (no admin token set)")
    if not authorization:
        raise HTTPException(
            status_code=401,
            detail="send the admin token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    # bytes: compare_digest refuses non-ASCII str; headers arrive decoded as latin-1,
    # so encoding back gives the bytes sent (a UTF-8 token compares as its UTF-8 bytes)
    given = token.strip().encode("latin-1")
    expected = settings.admin_token.encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
        raise HTTPException(status_code=403, detail="wrong admin token")


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] | None = Field(
        None, description="Folders/files to index; default: the roots of the served version."
    )
    full: bool = Field(False, description="Re-embed everything.")


class Job(BaseModel):
    job_id: str
    state: Literal["running", "succeeded", "failed"]
    paths: list[str]
    full: bool
    stage: str | None = None
    done: int = 0
    total: int | None = None
    started: float
    finished: float | None = None
    report: dict[str, object] | None = None
    error: str | None = None


class _JobProgress:
    """Progress sink that records the builder's stages on the job."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def stage(self, name: str, total: int | None, unit: str) -> None:
        self.job.stage, self.job.total, self.job.done = name, total, 0

    def advance(self, n: int = 1) -> None:
        self.job.done += n


_jobs: dict[str, Job] = {}
_jobs_lock = threading.Lock()


@router.post("/reindex", status_code=202, response_model=Job, dependencies=[Depends(require_token)])
def start_reindex(req: ReindexRequest, settings: SettingsDep, live: LiveDep) -> Job:
    """Start ``govspeech index`` in the background; poll the returned job.

    Only paths under the corpus folders can be named: the index's own (or, when
    set, ``GOVSPEECH_CORPUS_ROOTS``), since whatever is indexed becomes public
    through ``/search``. Naming some of them updates those and keeps the rest.
    """
    manifest = live.index_dir.current_manifest()
    allowed = [
        Path(p) for p in settings.corpus_roots or (manifest.corpus_roots if manifest else [])
    ]
    if not allowed:
        raise HTTPException(
            status_code=422,
            detail="no corpus folders to re-index: build the index once with `govspeech index`",
        )
    paths = [Path(p).expanduser().resolve() for p in req.paths or [str(r) for r in allowed]]
    outside = [str(p) for p in paths if not any(p.is_relative_to(r.resolve()) for r in allowed)]
    if outside:
        raise HTTPException(
            status_code=403,
            detail=f"only paths inside the corpus folders ({', '.join(map(str, allowed))}) can be "
            f"re-indexed, not {', '.join(outside)}; set GOVSPEECH_CORPUS_ROOTS to allow others",
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise HTTPException(status_code=422, detail=f"no such file or folder: {', '.join(missing)}")
    job = Job(
        job_id=uuid.uuid4().hex[:12],
        state="running",
        paths=[str(p) for p in paths],
        full=req.full,
        started=time.time(),
    )
    with _jobs_lock:
        _jobs[job.job_id] = job

    def run() -> None:
        try:
            report = build_index(
                paths,
                settings,
                full=req.full,
                progress=_JobProgress(job),
                embedder=live.embedder,
            )
            job.report, job.state = report.as_dict(), "succeeded"
        except (IndexLocked, BuildError) as e:
            job.error, job.state = str(e), "failed"
        except Exception as e:  # report anything else on the job instead of losing it
            job.error, job.state = f"{type(e).__name__}: {e}", "failed"
        finally:
            job.finished = time.time()

    threading.Thread(target=run, name=f"reindex-{job.job_id}", daemon=True).start()
    return job


@router.get("/reindex/{job_id}", response_model=Job, dependencies=[Depends(require_token)])
def reindex_status(job_id: str) -> Job:
    """State, stage and progress of a re-index job (and its report when done)."""
    job = _jobs.get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no re-index job {job_id!r}")
    return job
