"""Re-index jobs started through the service, kept in the index folder.

A service runs several worker processes; a job started by one must be visible
to a poll that lands on another, and survive neither process's memory. Each
job is one JSON file in ``INDEX_DIR/jobs/``, replaced atomically as it
progresses. The process running a job refreshes ``heartbeat`` every few
seconds; a job whose heartbeat stopped (its process was killed) reads as
failed, "interrupted". The newest ``KEEP`` jobs are kept.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

__all__ = ["FOLDER", "Job", "JobStore"]

#: The folder of job files inside an index folder; this module owns its name.
FOLDER = "jobs"
#: Jobs kept (the newest); older finished ones are removed when a job starts.
KEEP = 50
#: Seconds between heartbeats, and after which a silent running job counts as interrupted.
HEARTBEAT, STALE = 2.0, 30.0
#: Progress is written at most this often (and at every new stage).
_WRITE_EVERY = 0.5


class Job(BaseModel):
    """A re-index run and where it is."""

    job_id: str
    state: Literal["running", "succeeded", "failed"]
    paths: list[str]
    full: bool
    stage: str | None = None
    done: int = 0
    total: int | None = None
    started: float
    finished: float | None = None
    heartbeat: float | None = None
    host: str | None = None
    pid: int | None = None
    report: dict[str, object] | None = None
    error: str | None = None


class JobStore:
    """The job files of one index folder."""

    def __init__(self, index_root: Path) -> None:
        self.folder = Path(index_root) / FOLDER

    def create(self, paths: list[str], full: bool) -> Job:
        now = time.time()
        job = Job(
            job_id=uuid.uuid4().hex[:12],
            state="running",
            paths=paths,
            full=full,
            started=now,
            heartbeat=now,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.save(job)
        self.prune()
        return job

    def save(self, job: Job) -> None:
        """Write ``job`` whole, atomically: a reader sees the old file or the new one."""
        path = self._path(job.job_id)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(job.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)

    def get(self, job_id: str) -> Job | None:
        """The job, as any process last wrote it; a running job whose process died, failed."""
        if not job_id.isalnum():
            return None
        try:
            job = Job.model_validate_json(self._path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError):
            return None
        if job.state == "running" and time.time() - (job.heartbeat or job.started) > STALE:
            return job.model_copy(
                update={
                    "state": "failed",
                    "error": "interrupted: the process running it stopped (killed or restarted); "
                    "start it again",
                }
            )
        return job

    def running(self) -> Job | None:
        """A job still running (in any process), if there is one."""
        for path in sorted(self.folder.glob("*.json")):
            job = self.get(path.stem)
            if job is not None and job.state == "running":
                return job
        return None

    def prune(self) -> None:
        """Keep the newest ``KEEP`` job files (a running job always stays)."""
        jobs = [j for p in self.folder.glob("*.json") if (j := self.get(p.stem)) is not None]
        jobs.sort(key=lambda j: j.started, reverse=True)
        for job in jobs[KEEP:]:
            if job.state != "running":
                with contextlib.suppress(OSError):
                    self._path(job.job_id).unlink()

    def tracking(self, job: Job) -> JobTracker:
        return JobTracker(self, job)

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"


class JobTracker:
    """Records a running job's stages, progress and heartbeat; the builder's progress sink."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self._store = store
        self.job = job
        self._lock = threading.Lock()
        self._written = 0.0
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"job-{job.job_id}", daemon=True)
        self._beat.start()

    def stage(self, name: str, total: int | None, unit: str) -> None:
        with self._lock:
            self.job.stage, self.job.total, self.job.done = name, total, 0
            self._write(force=True)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.job.done += n
            self._write()

    def finish(self, report: dict[str, object] | None = None, error: str | None = None) -> None:
        self._stop.set()
        with self._lock:
            self.job.report, self.job.error = report, error
            self.job.state = "failed" if error else "succeeded"
            self.job.finished = time.time()
            self._write(force=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            with self._lock:
                self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self._written >= _WRITE_EVERY:
            self.job.heartbeat = now
            with contextlib.suppress(OSError):  # a full disk must not kill the build itself
                self._store.save(self.job)
            self._written = now
