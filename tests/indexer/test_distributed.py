"""Embedding on Ray: a local cluster of this machine's 2 CPUs, the real model in each actor."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from indexer.embed import Embedder
from indexer.embed.distributed import RayEncoder, passage_encoder
from indexer.schemas import SearchRequest
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.versions import IndexDir
from tests.conftest import seeded_index

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None, reason="pip install 'govspeech[ray]'"
    ),
]


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    import ray

    yield
    ray.shutdown()


def test_without_an_address_this_process_embeds(embedder: Embedder) -> None:
    assert passage_encoder(Settings(), embedder) is embedder


def test_ray_actors_give_the_vectors_this_process_gives(
    ray_local: None, embedder: Embedder, index_settings: Settings
) -> None:
    searcher = Searcher.at(
        IndexDir(index_settings.index_dir).current_path(), embedder, index_settings
    )
    texts = [t for _, t in searcher.store.passage_texts()][:60]
    encoder = RayEncoder(Settings(ray_address="local"), embedder.dim)
    seen: list[int] = []
    got = encoder.encode_passages(texts, progress=seen.append)
    want = embedder.encode_passages(texts)
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5
    assert seen and seen[-1] == len(texts)  # progress reached the end
    # texts in other batches and another order: each vector is a function of its text alone
    again = encoder.encode_passages(texts[::-1], batch_size=4)[::-1]
    assert np.abs(again - want).max() <= 1e-5


def test_a_build_embeds_its_new_windows_on_ray(
    ray_local: None,
    tmp_path: Path,
    slice_dir: Path,
    index_settings: Settings,
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(slice_dir, corpus)
    (corpus / "新增讲话.txt").write_text(
        "在全市科技工作会议上的讲话\n\n"
        "同志们：今年要把实验室里的成果送进生产线，建设一批中试基地，"
        "让企业敢用、愿用、用得起新技术。\n\n"
        "要完善知识产权保护制度，健全科研人员职务发明收益分配机制。\n",
        encoding="utf-8",
    )
    settings = seeded_index(tmp_path / "index", index_settings, ray_address="local")
    with caplog.at_level(logging.INFO, logger="indexer.embed.distributed"):
        report = build_index([corpus], settings, embedder=embedder)
    assert 0 < report.vectors_embedded < 20  # only the new speech's windows
    assert any("embedding on Ray" in r.getMessage() for r in caplog.records)
    searcher = Searcher.at(IndexDir(settings.index_dir).current_path(), embedder, settings)
    hits = searcher.search(SearchRequest(q="中试基地 成果送进生产线", mode="dense", k=3)).hits
    assert hits[0].document.title == "在全市科技工作会议上的讲话"


def _actor_pids() -> list[int]:
    """Processes of this machine running a Ray Data map worker (our embedding actors)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # not a process, or gone
            continue
        if proc.name.isdigit() and b"MapWorker(MapBatches(_EmbedActor))" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_ray_actor_killed_mid_job_is_restarted_and_no_vector_is_lost(
    ray_local: None, embedder: Embedder, index_settings: Settings
) -> None:
    searcher = Searcher.at(
        IndexDir(index_settings.index_dir).current_path(), embedder, index_settings
    )
    texts = [t for _, t in searcher.store.passage_texts()][:120]  # 30 batches: a kill lands mid-job
    encoder = RayEncoder(Settings(ray_address="local"), embedder.dim)
    killed: list[int] = []

    def kill_one_actor(done: int) -> None:  # once the first batches are back, not the last
        if not killed and done < len(texts) and (actors := _actor_pids()):
            os.kill(actors[0], signal.SIGKILL)
            killed.append(actors[0])

    got = encoder.encode_passages(texts, batch_size=4, progress=kill_one_actor)
    assert killed, "no actor was running when the first batch came back"
    assert not np.isnan(got).any()
    assert np.abs(got - embedder.encode_passages(texts)).max() <= 1e-5
