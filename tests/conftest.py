"""Shared fixtures: a small real slice of ../shared/corpus, a real index, a real server.

The slice is a few documents (the scraped speech, three provincial reports,
three national reports including the traditional-character 1954 one), so the
whole suite embeds about a thousand passages with the real model.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from indexer.build import build_index
from indexer.embed import Embedder, load_embedder
from indexer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
NATIONAL = CORPUS / "national-reports" / "government_work_reports.jsonl"
PROVINCES = ("浙江省", "湖北省", "江西省")
NATIONAL_YEARS = ("1954", "2019", "2025")


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


def national_records(years: tuple[str, ...] = NATIONAL_YEARS) -> list[dict[str, object]]:
    """Government work reports of the given years, as raw JSONL records."""
    with NATIONAL.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if str(r.get("year")) in years and "政府工作报告" in r["title"]]


def provincial_csv(province: str) -> Path:
    return CORPUS / "provincial-2026" / f"2026_{province}_政府工作报告.csv"


def provincial_text(province: str) -> str:
    with provincial_csv(province).open(encoding="utf-8-sig") as f:
        return next(csv.DictReader(f))["full_text"]


def write_slice(root: Path) -> Path:
    """Copy a few real documents into ``root`` the way a user's folder looks."""
    require_corpus()
    root.mkdir(parents=True, exist_ok=True)
    for province in PROVINCES:
        shutil.copy(provincial_csv(province), root)
    shutil.copy(CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt", root)
    with (root / "national.jsonl").open("w", encoding="utf-8") as f:
        for r in national_records():
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return root


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (converted once into the user's model cache)."""
    return load_embedder(Settings())


@pytest.fixture(scope="session")
def slice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_slice(tmp_path_factory.mktemp("corpus-slice"))


@pytest.fixture(scope="session")
def index_settings(
    tmp_path_factory: pytest.TempPathFactory, slice_dir: Path, embedder: Embedder
) -> Settings:
    """Settings pointing at a real index of the slice, built once per session."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("index"))
    build_index([slice_dir], settings, embedder=embedder)
    return settings


def seeded_index(index: Path, index_settings: Settings, **overrides: object) -> Settings:
    """Settings for a new index at ``index`` whose embedding cache already holds the session
    index's vectors, so building any part of the slice there embeds nothing: tests that
    count what a *re*-index embeds, or that only need an index, do not pay for the model."""
    index.mkdir(parents=True)
    shutil.copy(index_settings.index_dir / "embeddings.sqlite", index)
    return Settings(index_dir=index, **overrides)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``govspeech serve``'s app in a real uvicorn server on a loopback port.

    Entering waits until the server listens and, with ``ready``, until its
    warm-up is over (``/health`` is no longer ``starting``).
    """

    def __init__(self, settings: Settings, embedder: Embedder | None, ready: bool = True) -> None:
        from api.main import create_app, server_options

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, embedder)
        options = {**server_options(settings), "host": "127.0.0.1", "port": self.port}
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", **options))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._ready = ready

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started or (
            self._ready and httpx.get(f"{self.url}/health").json()["status"] == "starting"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(index_settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    with LiveServer(index_settings, embedder) as s:
        yield s


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
