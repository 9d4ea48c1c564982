"""/admin/reindex over real HTTP: token checks and a real background run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from indexer.build import build_index
from indexer.embed import Embedder
from indexer.jobs import KEEP, JobStore
from indexer.settings import Settings
from tests.conftest import CORPUS, LiveServer, require_corpus

pytestmark = pytest.mark.integration  # real model, index, server or browser

TOKEN = "s3cret-token-of-16+chars"


@pytest.fixture(scope="module")
def admin_setup(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[Settings, Path]:
    require_corpus()
    folder = tmp_path_factory.mktemp("admin-corpus")
    shutil.copy(CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt", folder)
    settings = Settings(index_dir=tmp_path_factory.mktemp("admin-index"), admin_token=TOKEN)
    build_index([folder], settings, embedder=embedder)
    return settings, folder


@pytest.fixture(scope="module")
def admin_http(admin_setup: tuple[Settings, Path], embedder: Embedder) -> Iterator[httpx.Client]:
    settings, _ = admin_setup
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=60) as c,
    ):
        yield c


def test_admin_is_off_without_a_token(http: httpx.Client) -> None:
    r = http.post("/admin/reindex", json={}, headers={"Authorization": "Bearer anything"})
    assert r.status_code == 404
    assert "off" in r.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": TOKEN}, 403)],
)
def test_wrong_or_missing_token_changes_nothing(
    admin_http: httpx.Client, headers: dict[str, str], status: int
) -> None:
    before = admin_http.get("/stats").json()["version"]
    r = admin_http.post("/admin/reindex", json={"full": True}, headers=headers)
    assert r.status_code == status
    assert admin_http.get("/admin/reindex/abc", headers=headers).status_code == status
    time.sleep(0.2)
    assert admin_http.get("/stats").json()["version"] == before


def test_reindex_job_runs_and_new_version_is_served(
    admin_http: httpx.Client, admin_setup: tuple[Settings, Path]
) -> None:
    _, folder = admin_setup
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = admin_http.get("/stats").json()["version"]
    (folder / "new").mkdir()
    (folder / "new" / "会议讲话.txt").write_text(
        "关于成果转化的会议讲话\n\n会议要求加快科技成果转化，完善成果转化激励政策。\n",
        encoding="utf-8",
    )
    r = admin_http.post("/admin/reindex", json={"paths": [str(folder / "new")]}, headers=auth)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 120
    while True:
        job = admin_http.get(f"/admin/reindex/{job_id}", headers=auth).json()
        if job["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["state"] == "succeeded", job
    report = job["report"]
    assert (report["unchanged"], report["added"], report["deleted"]) == (1, 1, 0), report
    assert report["embedded"] == 1, "only the new document is embedded"
    after = admin_http.get("/stats").json()["version"]
    assert after == job["report"]["version"] != before
    assert admin_http.get("/search", params={"q": "成果转化"}).json()["version"] == after


def test_reindex_of_a_missing_folder_is_422(
    admin_http: httpx.Client, admin_setup: tuple[Settings, Path]
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    missing = str(admin_setup[1] / "no-such-folder")
    r = admin_http.post("/admin/reindex", json={"paths": [missing]}, headers=auth)
    assert r.status_code == 422
    assert "no-such-folder" in r.json()["detail"]


def test_reindex_outside_the_corpus_folders_is_refused(
    admin_http: httpx.Client, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = admin_http.get("/stats").json()
    for path in ["/etc", str(tmp_path), "../../etc"]:
        r = admin_http.post("/admin/reindex", json={"paths": [path]}, headers=auth)
        assert r.status_code == 403, (path, r.text)
        assert "corpus folders" in r.json()["detail"]
    assert admin_http.get("/stats").json()["version"] == before["version"]


def test_a_job_is_seen_by_every_worker_and_a_second_run_is_refused(
    admin_setup: tuple[Settings, Path], embedder: Embedder
) -> None:
    """Two service processes share nothing but the index folder: a job started on one is
    polled on the other (never 404), and a second start while it runs is a 409 naming it."""
    settings, folder = admin_setup
    auth = {"Authorization": f"Bearer {TOKEN}"}
    (folder / "more").mkdir(exist_ok=True)
    (folder / "more" / "工作讲话.txt").write_text(
        "关于营商环境的讲话\n\n要持续优化营商环境，依法保护各类经营主体合法权益。\n",
        encoding="utf-8",
    )
    with (
        LiveServer(settings, embedder) as one,
        LiveServer(settings, embedder) as two,
        httpx.Client(base_url=one.url, timeout=60) as a,
        httpx.Client(base_url=two.url, timeout=60) as b,
    ):
        started = a.post("/admin/reindex", json={"paths": [str(folder / "more")]}, headers=auth)
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        again = b.post("/admin/reindex", json={}, headers=auth)
        if again.status_code == 409:  # the first job may be done already on a fast machine
            assert job_id in again.json()["detail"]
        else:
            assert again.status_code == 202
        deadline = time.monotonic() + 120
        while (polled := b.get(f"/admin/reindex/{job_id}", headers=auth)).json()[
            "state"
        ] == "running":
            assert polled.status_code == 200 and time.monotonic() < deadline
            time.sleep(0.2)
        assert polled.status_code == 200 and polled.json()["state"] == "succeeded"
        assert a.get(f"/admin/reindex/{job_id}", headers=auth).json() == polled.json()


@pytest.mark.parametrize(
    "body",
    [{"full": 0}, {"full": "yes"}, {"paths": "/etc"}, {"paths": ["a\u0000b"]}, {"extra": 1}],
)
def test_admin_bodies_are_strict(admin_http: httpx.Client, body: dict[str, object]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = admin_http.post("/admin/reindex", json=body, headers=auth)
    assert r.status_code == 422, r.text


def test_a_lone_surrogate_in_paths_is_422(admin_http: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    r = admin_http.post("/admin/reindex", content=b'{"paths": ["\\ud800"]}', headers=auth)
    assert r.status_code == 422, r.text


def test_wrong_tokens_earn_a_wait(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "index", admin_token=TOKEN)
    with (
        LiveServer(settings, embedder, ready=False) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        wrong = {"Authorization": "Bearer not-the-token"}
        codes = [c.get("/admin/reindex/x", headers=wrong).status_code for _ in range(5)]
        assert codes == [403] * 5
        waited = c.get("/admin/reindex/x", headers={"Authorization": f"Bearer {TOKEN}"})
        assert waited.status_code == 429 and int(waited.headers["retry-after"]) >= 1


def test_admin_tokens_must_be_long() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(admin_token="short")


def test_a_job_whose_process_died_reads_as_interrupted(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    job = store.create(["/corpus"], full=False)
    store.save(job.model_copy(update={"heartbeat": time.time() - 120}))
    found = store.get(job.job_id)
    assert found is not None and found.state == "failed" and "interrupted" in (found.error or "")
    assert store.running() is None
    assert store.get("../../etc/passwd") is None
    for _ in range(KEEP + 5):
        store.save(store.create([], full=False).model_copy(update={"state": "succeeded"}))
    assert len(list(store.folder.glob("*.json"))) <= KEEP + 1
