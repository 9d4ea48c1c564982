"""Index versions on real documents: manifest, re-runs, lock, rollback, model checks."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.build import BuildError, build_index
from indexer.cache import load_window_keys
from indexer.embed import Embedder, load_embedder
from indexer.feedback import FeedbackWords
from indexer.manifest import Manifest
from indexer.schemas import SearchRequest
from indexer.search import ModelMismatch, Searcher
from indexer.settings import Settings
from indexer.versions import IndexDir, IndexLocked, RollbackError
from tests.conftest import CORPUS, ROOT, require_corpus, seeded_index

pytestmark = pytest.mark.integration  # real model, index, server or browser

SPEECH = "000_8759e18efef570e4.txt"


@pytest.fixture()
def speech_dir(tmp_path: Path) -> Path:
    require_corpus()
    folder = tmp_path / "speeches"
    folder.mkdir()
    shutil.copy(CORPUS / "scraped-speech" / SPEECH, folder)
    return folder


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index")


def test_manifest_records_model_counts_and_corpus(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    report = build_index([speech_dir], settings, embedder=embedder)
    assert report.documents == 1 and report.passages > 5
    assert report.embedded == report.passages and report.reused == 0
    m = Manifest.load(IndexDir(settings.index_dir).current_path())
    assert m.version == report.version
    assert m.passages == report.passages and m.documents == 1
    assert m.model == embedder.fingerprint()
    assert m.model["dim"] == 384
    assert m.corpus_fingerprint
    # the figures a run reports: windows, their rate, what the version and the cache take
    assert report.windows == m.windows >= report.passages
    assert report.vectors_embedded > 0 and report.windows_per_second > 0
    folder = IndexDir(settings.index_dir).current_path()
    on_disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert report.version_bytes == on_disk > 0
    assert report.cache_bytes >= IndexDir(settings.index_dir).cache_path.stat().st_size > 0


def test_rerun_without_changes_embeds_nothing(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    first = build_index([speech_dir], settings, embedder=embedder)
    again = build_index([speech_dir], settings, embedder=embedder)
    assert not again.full and again.no_change
    assert (again.unchanged, again.added, again.changed, again.deleted) == (1, 0, 0, 0)
    assert again.embedded == 0 and again.reused == first.passages
    assert again.version == first.version
    assert (again.windows, again.version_bytes) == (first.windows, first.version_bytes)
    assert IndexDir(settings.index_dir).versions() == [first.version], "no new version written"
    no_paths = build_index(None, settings, embedder=embedder)
    assert no_paths.no_change and no_paths.roots == [str(speech_dir.resolve())]


def test_a_version_without_feedback_words_serves_and_is_rebuilt(
    speech_dir: Path, settings: Settings, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    # versions built before feedback words were stored: hybrid runs without, the next run
    # writes a version that has them, from cached vectors
    first = build_index([speech_dir], settings, embedder=embedder)
    folder = IndexDir(settings.index_dir).current_path()
    shutil.rmtree(folder / "feedback")
    old = Searcher.at(folder, embedder, settings)
    assert "built before feedback words" in caplog.text
    assert old.search(SearchRequest(q="成果转化", mode="hybrid")).hits
    again = build_index([speech_dir], settings, embedder=embedder)
    assert not again.no_change and again.version != first.version and again.embedded == 0
    stored = FeedbackWords.load(IndexDir(settings.index_dir).current_path())
    assert stored is not None and len(stored) == again.passages


def test_second_run_is_refused_while_the_lock_is_held(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    with (
        IndexDir(settings.index_dir).lock("a test holding the index"),
        pytest.raises(IndexLocked) as e,
    ):
        build_index([speech_dir], settings, embedder=embedder)
    assert f"pid {os.getpid()}" in str(e.value)
    assert "a test holding the index" in str(e.value)


def test_rollback_serves_the_previous_version(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    first = build_index([speech_dir], settings, embedder=embedder)
    build_index([speech_dir], settings, embedder=embedder, full=True)
    index_dir = IndexDir(settings.index_dir)
    assert index_dir.rollback() == first.version
    assert index_dir.current_name() == first.version


def _three_edited_versions(folder: Path, settings: Settings, embedder: Embedder) -> list[str]:
    """Edit the speech and re-index, three times (an unchanged run writes no version)."""
    speech = folder / SPEECH
    names = []
    for edit in ("一", "二", "三"):
        speech.write_text(speech.read_text(encoding="utf-8") + f"\n补充说明第{edit}条。\n")
        names.append(build_index([folder], settings, embedder=embedder).version)
    return names


def test_old_versions_are_pruned_to_the_configured_number(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    settings = settings.model_copy(update={"keep_versions": 1})
    names = _three_edited_versions(speech_dir, settings, embedder)
    index_dir = IndexDir(settings.index_dir)
    assert index_dir.versions() == names[1:]
    # the cache keeps only what the kept versions use: the first edit's window is gone
    cache = sqlite3.connect(index_dir.cache_path)
    keys = {k for (k,) in cache.execute("SELECT key FROM vectors")}
    cache.close()
    kept = set()
    for name in index_dir.versions():
        kept |= {k.hex() for k in load_window_keys(index_dir.versions_dir / name)}
    assert keys == kept


def test_searching_with_another_model_is_a_clear_error(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([speech_dir], settings, embedder=embedder)
    other = load_embedder(settings.model_copy(update={"query_prompt": "查询："}))
    with pytest.raises(ModelMismatch) as e:
        Searcher.at(IndexDir(settings.index_dir).current_path(), other, settings)
    assert "query_prompt" in str(e.value) or "prompt" in str(e.value)
    assert "--full" in str(e.value)
    # float32 weights (the torch path computes them; an ONNX float32 export would be 0.5 GB)
    float32 = load_embedder(settings.model_copy(update={"onnx_runtime": False}))
    assert embedder.fingerprint()["weights"] == "int8", "the default runs int8 weights"
    with pytest.raises(ModelMismatch) as e:
        Searcher.at(IndexDir(settings.index_dir).current_path(), float32, settings)
    assert "GOVSPEECH_ONNX_INT8=1" in str(e.value), e.value


def test_changing_the_model_forces_a_full_rebuild(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([speech_dir], settings, embedder=embedder)
    other_settings = settings.model_copy(update={"passage_prompt": "段落："})
    report = build_index([speech_dir], other_settings, embedder=load_embedder(other_settings))
    assert report.full and "model changed" in (report.full_reason or "")
    assert report.embedded == report.passages


def test_folder_without_documents_leaves_the_index_alone(
    tmp_path: Path, speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    first = build_index([speech_dir], settings, embedder=embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.txt").write_bytes(b"")
    with pytest.raises(BuildError):
        build_index([empty], settings, embedder=embedder, replace=True)
    assert IndexDir(settings.index_dir).current_name() == first.version
    added = build_index([empty], settings, embedder=embedder)  # adding it keeps the speech
    assert added.documents == 1 and added.deleted == 0
    assert added.roots == [str(speech_dir.resolve()), str(empty.resolve())]


def test_new_paths_are_added_and_replace_drops_the_rest(
    tmp_path: Path, speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([speech_dir], settings, embedder=embedder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "讲话.txt").write_text(
        "关于科技成果转化的讲话\n\n要加快推进科技成果转化，培育新质生产力。\n"
    )
    both = build_index([other], settings, embedder=embedder)
    assert (both.documents, both.added, both.deleted) == (2, 1, 0)
    only = build_index([other], settings, embedder=embedder, replace=True)
    assert (only.documents, only.deleted) == (1, 1)
    assert only.removed and "讲话" in only.removed[0]
    assert only.roots == [str(other.resolve())]
    shutil.rmtree(other)
    with pytest.raises(BuildError, match="no longer exists"):
        build_index(None, settings, embedder=embedder)


def test_search_answers_from_the_built_version(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([speech_dir], settings, embedder=embedder)
    searcher = Searcher.at(IndexDir(settings.index_dir).current_path(), embedder, settings)
    res = searcher.search(SearchRequest(q="成果转化 引导基金", k=3))
    assert res.hits and "成果转化" in res.hits[0].text
    assert res.hits[0].section, "passages of a sectioned speech carry their heading path"


def test_a_crash_while_pruning_leaves_no_half_version_and_rollback_skips_damage(
    tmp_path: Path, speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    names = _three_edited_versions(speech_dir, settings, embedder)
    index_dir = IndexDir(settings.index_dir)
    # a prune killed mid-delete: the version was renamed aside first, so it no longer lists
    half = index_dir.versions_dir / f".deleting-{names[0]}"
    os.replace(index_dir.versions_dir / names[0], half)
    (half / "store.sqlite").unlink()
    assert index_dir.versions() == names[1:]
    # an older version damaged some other way is skipped by rollback, never served
    (index_dir.versions_dir / names[1] / "store.sqlite").unlink()
    with pytest.raises(RollbackError, match="damaged"):
        index_dir.rollback()
    assert index_dir.current_name() == names[2]
    assert half.name in index_dir.remove_partials()


@pytest.mark.parametrize(
    ("room", "says"),
    [(0.0, "could not use the embedding cache"), (0.5, "could not write the new version")],
)
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(
    tmp_path: Path, speech_dir: Path, settings: Settings, embedder: Embedder, room: float, says: str
) -> None:
    """A real full disk: the index lives on a tmpfs with ``room`` (a share of one version's
    size) to spare: none, too little even for the new vectors; half, enough for them but not
    for the new version. Each run says so in one line; the served version stays, no partial."""
    first = build_index([speech_dir], settings, embedder=embedder)
    disk = tmp_path / "small-disk"
    disk.mkdir()

    def blocks(root: Path) -> int:
        return sum(-(-p.stat().st_size // 4096) * 4096 for p in root.rglob("*"))

    version = IndexDir(settings.index_dir).current_path()
    size = blocks(settings.index_dir) + int(room * blocks(version))
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)]
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        index = disk / "index"
        shutil.copytree(settings.index_dir, index)
        speech = speech_dir / SPEECH
        speech.write_text(speech.read_text(encoding="utf-8") + "\n补充说明：磁盘将满。\n")
        command = [sys.executable, "-c", "from govspeech.cli import main; main()", "index"]
        done = subprocess.run(
            [*command, "--index-dir", str(index)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert says in done.stderr and "unchanged" in done.stderr, done.stderr[-600:]
        index_dir = IndexDir(index)
        assert index_dir.current_name() == first.version
        assert not list(index_dir.versions_dir.glob(".partial-*")), "the partial version is gone"
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_an_interrupted_build_resumes_from_the_cache_and_says_so(
    tmp_path: Path,
    slice_dir: Path,
    index_settings: Settings,
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run that embedded part of the corpus and died leaves its vectors in the cache only."""
    part = tmp_path / "part"  # all but the scraped speech, the one document left to embed
    shutil.copytree(slice_dir, part, ignore=shutil.ignore_patterns("*.txt"))
    settings = seeded_index(tmp_path / "index", index_settings)
    # the build drops the cached vectors its version does not use: the speech's
    assert build_index([part], settings, embedder=embedder).vectors_embedded == 0
    index = IndexDir(settings.index_dir)
    shutil.rmtree(index.versions_dir)  # the kill came before any version was published
    index.current_file.unlink()
    with caplog.at_level("INFO", logger="indexer.build"):
        report = build_index([slice_dir], settings, embedder=embedder)
    embedded = report.vectors_embedded
    assert any(
        m.startswith("resuming: ") and "windows already embedded" in m for m in caplog.messages
    )
    assert 0 < embedded < Manifest.load(index.current_path()).windows
    # the same index as one uninterrupted build: same passages, same vectors
    fresh, resumed = (
        Searcher.at(IndexDir(s.index_dir).current_path(), embedder, s)
        for s in (index_settings, settings)
    )
    assert list(fresh.store.passage_texts()) == list(resumed.store.passage_texts())
    rows = np.arange(len(fresh.dense))
    q = embedder.encode_queries(["科技创新 人才"])
    assert np.allclose(
        fresh.dense.similarity(q, rows), resumed.dense.similarity(q, rows), atol=1e-5
    )


def test_one_huge_document_is_cut_and_the_summary_says_so(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A 50 MB one-line file must not become 56,000 passages silently."""
    folder = tmp_path / "huge"
    folder.mkdir()
    paragraph = "各地要持续优化营商环境，依法保护各类经营主体的合法权益，稳定市场预期。"
    (folder / "huge.txt").write_text(paragraph * 2000, encoding="utf-8")  # 70,000 characters
    (folder / "small.txt").write_text("关于营商环境的讲话\n\n" + paragraph * 3, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", max_document_chars=20_000)
    report = build_index([folder], settings, embedder=embedder)
    assert report.truncated == [{"source": "huge.txt", "chars": 70_000}]
    line = next(x for x in report.metadata_lines() if x.startswith("cut 1 document"))
    assert "first 20,000 characters" in line and "huge.txt (70,000 characters)" in line
    store = sqlite3.connect(IndexDir(settings.index_dir).current_path() / "store.sqlite")
    kept = store.execute(
        "SELECT sum(length(p.text)) FROM passages p JOIN documents d USING (doc_id) "
        "WHERE d.source = 'huge.txt'"
    ).fetchone()[0]
    assert 15_000 < kept <= 20_000


def test_rollback_refuses_a_version_whose_files_cannot_be_read(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    first = build_index([speech_dir], settings, embedder=embedder).version
    (speech_dir / "more.txt").write_text("关于营商环境的讲话\n\n要持续优化营商环境。" * 3, "utf-8")
    second = build_index([speech_dir], settings, embedder=embedder).version
    index_dir = IndexDir(settings.index_dir)
    store = index_dir.versions_dir / first / "store.sqlite"
    store.write_bytes(b"not a database" * 100)  # there, but unreadable
    with pytest.raises(RollbackError, match="cannot be read"):
        index_dir.rollback()
    assert index_dir.current_name() == second, "still serving what works"


def test_a_pointer_a_killed_run_left_is_removed_by_the_next(
    speech_dir: Path, settings: Settings, embedder: Embedder
) -> None:
    build_index([speech_dir], settings, embedder=embedder)
    stale = settings.index_dir / "CURRENT.12345.678"
    stale.write_text("v00009-nothing\n", encoding="utf-8")
    (speech_dir / "more.txt").write_text("关于营商环境的讲话\n\n要持续优化营商环境。" * 3, "utf-8")
    build_index([speech_dir], settings, embedder=embedder)
    assert not stale.exists()
