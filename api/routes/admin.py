"""Admin: start a re-index run in the background and follow its progress.

Off unless ``GOVSPEECH_ADMIN_TOKEN`` is set (then 404, as if absent); callers
send ``Authorization: Bearer <token>``: none gives 401, a wrong one 403, and
neither starts or reveals anything. A client that sent wrong tokens
``BACKOFF_AFTER`` times is told to wait (429, Retry-After doubling up to
``BACKOFF_MAX`` seconds) before its next try counts. Jobs and the back-off
live in the index folder, so every worker process of the service sees them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import LiveDep, SettingsDep
from indexer.build import BuildError, build_index
from indexer.jobs import Job, JobStore
from indexer.schemas import Text
from indexer.settings import Settings
from indexer.versions import IndexLocked

router = APIRouter(prefix="/admin", tags=["admin"])

#: Wrong tokens a client may send before it must wait, and the longest wait.
BACKOFF_AFTER, BACKOFF_MAX = 5, 300
_BACKOFF_FILE = "admin-backoff.json"


def require_token(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    if not settings.admin_token:
        raise HTTPException(status_code=404, detail="admin endpoints are off (no admin token set)")
    if not authorization:
        raise HTTPException(
            status_code=401,
            detail="send the admin token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    backoff = _Backoff(settings)
    client = request.client.host if request.client else "unknown"
    if (wait := backoff.wait(client)) > 0:
        raise HTTPException(
            status_code=429,
            detail=f"too many wrong admin tokens from this client: wait {wait} s",
            headers={"Retry-After": str(wait)},
        )
    scheme, _, token = authorization.partition(" ")
    # bytes: compare_digest refuses non-ASCII str; headers arrive decoded as latin-1,
    # so encoding back gives the bytes sent (a UTF-8 token compares as its UTF-8 bytes)
    given = token.strip().encode("latin-1")
    expected = settings.admin_token.encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
        backoff.failed(client)
        raise HTTPException(status_code=403, detail="wrong admin token")
    backoff.passed(client)


class _Backoff:
    """Wrong-token counts per client, in the index folder (all worker processes share them)."""

    def __init__(self, settings: Settings) -> None:
        self._path = Path(settings.index_dir) / _BACKOFF_FILE

    def wait(self, client: str) -> int:
        entry = self._read().get(_key(client))
        return (
            max(0, int(entry["until"] - time.time()) + 1)
            if entry and entry["until"] > time.time()
            else 0
        )

    def failed(self, client: str) -> None:
        with self._locked() as table:
            entry = table.setdefault(_key(client), {"count": 0, "until": 0.0})
            entry["count"] += 1
            if entry["count"] >= BACKOFF_AFTER:
                entry["until"] = time.time() + min(
                    2 ** (entry["count"] - BACKOFF_AFTER + 1), BACKOFF_MAX
                )

    def passed(self, client: str) -> None:
        if _key(client) in self._read():
            with self._locked() as table:
                table.pop(_key(client), None)

    def _read(self) -> dict[str, dict[str, float]]:
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    @contextlib.contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            table = self._read()
            yield table
            tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(table), encoding="utf-8")
            os.replace(tmp, self._path)


def _key(client: str) -> str:
    return hashlib.sha256(client.encode()).hexdigest()[:16]


class ReindexRequest(BaseModel):
    """Strict JSON types: 0 or "yes" is no boolean, a path must be a string."""

    model_config = ConfigDict(extra="forbid", strict=True)

    paths: list[Text] | None = Field(
        None, description="Folders/files to index; default: the roots of the served version."
    )
    full: bool = Field(False, description="Re-embed everything.")


@router.post(
    "/reindex",
    status_code=202,
    response_model=Job,
    dependencies=[Depends(require_token)],
    responses={409: {"description": "A re-index job is already running (its id is named)."}},
)
def start_reindex(req: ReindexRequest, settings: SettingsDep, live: LiveDep) -> Job:
    """Start ``govspeech index`` in the background; poll the returned job.

    Only paths under the corpus folders can be named: the index's own (or, when
    set, ``GOVSPEECH_CORPUS_ROOTS``), since whatever is indexed becomes public
    through ``/search``. Naming some of them updates those and keeps the rest.
    While a job runs (started through any worker process), another is refused
    with 409 naming it.
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
    store = JobStore(live.index_dir.root)
    if (running := store.running()) is not None:
        raise HTTPException(
            status_code=409,
            detail=f"re-index job {running.job_id} is running; poll /admin/reindex/{running.job_id}",
        )
    job = store.create([str(p) for p in paths], req.full)
    tracker = store.tracking(job)

    def run() -> None:
        try:
            report = build_index(
                paths, settings, full=req.full, progress=tracker, embedder=live.embedder
            )
            tracker.finish(report=report.as_dict())
        except (IndexLocked, BuildError) as e:
            tracker.finish(error=str(e))
        except Exception as e:  # report anything else on the job instead of losing it
            tracker.finish(error=f"{type(e).__name__}: {e}")

    threading.Thread(target=run, name=f"reindex-{job.job_id}", daemon=True).start()
    return job


@router.get("/reindex/{job_id}", response_model=Job, dependencies=[Depends(require_token)])
def reindex_status(job_id: str, live: LiveDep) -> Job:
    """State, stage and progress of a re-index job (and its report when done), whichever
    worker process runs it."""
    job = JobStore(live.index_dir.root).get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no re-index job {job_id!r}")
    return job
