"""Hostile and broken input over real HTTP: every answer is a 4xx/503 with one JSON shape.

Each test reproduces a finding of the hardening review (a 500, a reset
connection, an unbounded request, a leaked path) against the real service.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from indexer.embed import Embedder
from indexer.settings import Settings
from tests.conftest import LiveServer

pytestmark = pytest.mark.integration  # real model, index, server or browser


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"detail", "errors"} and isinstance(body["detail"], str), body
    return body["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"q": "\\ud800"}',
        '{"q": "x", "filters": {"region": "\\udfff"}}',
        '{"q": "x", "k": 1e400}',
        '{"q": "x", "min_score": NaN}',
        '{"q": "x", "min_score": Infinity}',
        '{"q": "x", "filters": {"year_from": true}}',
        '{"q": "x", "filters": {"date_from": "not-a-date"}}',
        '{"q": "x", "collapse": 0}',
        '{"q": "x\\u0000y"}',
    ],
)
def test_bad_json_values_are_422_never_500(http: httpx.Client, raw: str) -> None:
    r = http.post("/search", content=raw, headers={"Content-Type": "application/json"})
    assert _error(r, 422)


def test_invalid_utf8_and_malformed_bodies_are_4xx(http: httpx.Client) -> None:
    for body in (b'{"q": "\xff\xfe"}', b'{"q": ', b"\x00\x01", b"[]", b'"q"'):
        r = http.post("/search", content=body, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert "detail" in r.json()


def test_huge_body_url_and_headers_are_refused_in_words(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        big = json.dumps({"q": "成果转化", "pad": "x" * 200_000})
        assert "larger than" in _error(
            client.post("/search", content=big, headers={"Content-Type": "application/json"}),
            413,
        )
        assert "headers" in _error(client.get("/health", headers={"X-Pad": "a" * 20_000}), 431)
    # 100k characters: beyond what httpx will send, so over a raw socket
    reply = _raw(server.port, b"GET /search?q=" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 414") and b"longer than" in reply, reply[:200]


def test_a_chunked_body_past_the_limit_is_413(server: LiveServer) -> None:
    def chunks():
        yield b'{"q": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}'

    with httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/search", content=chunks(), headers={"Content-Type": "application/json"})
    assert _error(r, 413)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and b'"}' in reply:
                break
    return reply


def test_odd_header_bytes_are_answered(server: LiveServer) -> None:
    reply = _raw(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Odd: \xff\xfe\x80\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200"), reply[:80]


def test_non_ascii_admin_tokens_are_403_not_500(
    tmp_path: Path, index_settings: Settings, embedder: Embedder
) -> None:
    settings = index_settings.model_copy(update={"admin_token": "令牌-secret-of-sixteen-chars"})
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        wrong = client.get(
            "/admin/reindex/x", headers=[(b"Authorization", "Bearer 错误的令牌".encode())]
        )
        assert _error(wrong, 403) == "wrong admin token"
        raw = "Bearer 令牌-secret-of-sixteen-chars".encode()
        right = client.get("/admin/reindex/x", headers=[(b"Authorization", raw)])
        assert _error(right, 404), "the right token (sent as UTF-8) gets past the check"


def test_too_many_concurrent_searches_get_503_with_retry_after(
    index_settings: Settings, embedder: Embedder
) -> None:
    settings = index_settings.model_copy(
        update={"max_concurrent_searches": 1, "search_wait_seconds": 0.2}
    )
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.get("/search", params={"q": "成果转化"}).status_code == 200
        slots = server.app.state.search_slots
        assert slots.acquire(timeout=5)  # a search that has not finished yet
        try:
            r = client.get("/search", params={"q": "成果转化"})
        finally:
            slots.release()
        assert "busy" in _error(r, 503) and r.headers["Retry-After"] == "1"
        assert client.get("/search", params={"q": "成果转化"}).status_code == 200


def test_searches_and_research_past_their_time_budget_are_503(
    index_settings: Settings, embedder: Embedder
) -> None:
    settings = index_settings.model_copy(update={"search_timeout_seconds": 1e-6})
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        costly = '"的" "是" "在" -"和" ' + " ".join("经济发展改革开放" for _ in range(20))
        passage = server.app.state.live.get().store.passages_by_rows([0])[0].passage_id
        for path, params in [
            ("/search", {"q": "成果转化"}),
            ("/trends", {"q": costly}),
            ("/compare", {"q": costly}),
            (f"/passages/{passage}/similar", {}),
            ("/export/search", {"q": "成果转化"}),
            ("/export/trends", {"q": costly}),
        ]:
            r = client.get(path, params=params)
            assert "took longer" in _error(r, 503), path
            assert r.headers["Retry-After"] == "1", path


def test_every_405_names_the_methods_allowed(http: httpx.Client) -> None:
    for method, path, allowed in [
        ("PUT", "/search", "GET, POST"),
        ("DELETE", "/stats", "GET"),
        ("PATCH", "/admin/reindex", "POST"),
        ("POST", "/passages/x/similar", "GET"),
    ]:
        r = http.request(method, path)
        _error(r, 405)
        assert r.headers["Allow"] == allowed, (method, path, r.headers.get("Allow"))


def test_a_parameter_given_twice_is_422_not_the_last_one_silently(http: httpx.Client) -> None:
    r = http.get("/search?q=成果转化&k=5&k=50")
    assert "'k' is given more than once" in _error(r, 422)
    assert http.get("/search?q=成果转化&k=5").status_code == 200


def test_similar_takes_filters_and_refuses_unknown_parameters(http: httpx.Client) -> None:
    hit = http.get("/search", params={"q": "科技成果转化", "k": 1}).json()["hits"][0]
    route = f"/passages/{hit['passage_id']}/similar"
    assert "unknown parameter" in _error(http.get(route, params={"bogus": 1}), 422)
    assert _error(http.get(route, params={"k": 0}), 422)
    inside = http.get(route, params={"region": "浙江省", "k": 5}).json()["hits"]
    assert inside and all(h["document"]["region"] == "浙江省" for h in inside)


def test_health_turns_ready_once_an_index_is_built_after_the_service_started(
    tmp_path: Path, index_settings: Settings, embedder: Embedder, slice_dir: Path
) -> None:
    """A service started before the first `govspeech index` tries again, and says so."""
    from indexer.build import build_index
    from tests.conftest import seeded_index

    settings = seeded_index(tmp_path / "index", index_settings)
    with (
        LiveServer(settings, embedder, ready=False) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        deadline = time.monotonic() + 30
        while (before := client.get("/health").json())["status"] == "starting":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert before["status"] == "degraded" and "no index" in before["reason"]
        build_index([slice_dir], settings, embedder=embedder)
        deadline = time.monotonic() + 60  # retried with back-off: 1, 2, 4, 8 ... s
        while (after := client.get("/health")).json()["status"] != "ready":
            assert time.monotonic() < deadline, after.json()
            time.sleep(0.5)
        assert after.status_code == 200 and after.json()["index_version"]


def test_unknown_hosts_are_refused_when_hosts_are_set(
    index_settings: Settings, embedder: Embedder
) -> None:
    settings = index_settings.model_copy(update={"allowed_hosts": ["localhost", "127.0.0.1"]})
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.get("/health").status_code == 200
        assert "Host" in _error(client.get("/health", headers={"Host": "evil.example"}), 400)


def test_no_server_paths_in_anonymous_answers(http: httpx.Client, index_settings: Settings) -> None:
    root = str(index_settings.index_dir.parent.parent)  # the pytest temp tree
    for path in ("/stats", "/facets", "/health", "/search?q=成果转化", "/passages/nope"):
        text = http.get(path).text
        assert root not in text and "/tmp/" not in text, (path, text[:300])


def test_an_index_that_cannot_be_loaded_is_503_with_the_reason(
    tmp_path: Path, index_settings: Settings, embedder: Embedder
) -> None:
    broken = tmp_path / "index"
    shutil.copytree(index_settings.index_dir, broken)
    [version] = (broken / "versions").iterdir()
    (version / "store.sqlite").unlink()  # e.g. a disk error ate it
    settings = index_settings.model_copy(update={"index_dir": broken})
    with (
        LiveServer(settings, embedder) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        reason = health.json()["reason"]
        assert "cannot be loaded" in reason and str(tmp_path) not in reason
        for path in ("/search?q=成果转化", "/stats", "/facets"):
            detail = _error(client.get(path), 503)
            assert detail == reason, (path, detail)
        live = server.app.state.live
        retry_at = live._retry_at
        client.get("/stats")
        assert live._retry_at == retry_at, "no reload on every request: it waits for its back-off"


def _schemathesis(url: str, cwd: Path, *options: str, examples: int = 25) -> str:
    """Run schemathesis (every check) on the service at ``url``; returns its output's tail."""
    (cwd / "schemathesis.toml").write_text(
        "[checks.negative_data_rejection]\n"
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "414", '
        '"415", "422", "428", "429", "431"]\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(examples),
            "--seed",
            "7",
            "--request-timeout",
            "20",
            "--generation-codec",
            "utf-8",  # HTTP clients send UTF-8 text (the service refuses the rest: 422)
            "--generation-allow-x00",
            "false",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,  # its example cache (.schemathesis/) stays out of the checkout
    )
    tail = done.stdout[-3000:]
    assert done.returncode == 0, tail
    assert " passed" in tail and "failure" not in tail.lower().split("summary")[-1], tail
    return tail


def test_schemathesis_on_admin_and_exports_finds_no_failure(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The admin routes with a real token (a tiny corpus, so a re-index it starts is cheap)
    and the export routes the main run leaves out."""
    from indexer.build import build_index
    from tests.conftest import ROOT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "sample" / "科技成果转化推进会讲话.txt", corpus)
    token = "schemathesis-admin-token-0123"
    settings = Settings(index_dir=tmp_path / "index", admin_token=token, corpus_roots=[corpus])
    build_index([corpus], settings, embedder=embedder)
    with LiveServer(settings, embedder) as server:
        _schemathesis(
            server.url,
            tmp_path,
            "--header",
            f"Authorization: Bearer {token}",
            "--include-path-regex",
            "^/(admin|export)/",
            examples=15,
        )


def test_schemathesis_finds_no_failure(server: LiveServer, tmp_path: Path) -> None:
    """Every operation, every check, against the running service: the spec is the truth.

    A schema-violating request long enough to pass the URL limit is refused with 414, which
    is a refusal too (schemathesis expects only 4xx it knows as validation statuses). The
    /export/ operations take the same parameter models as /search, /trends and /compare
    (plus format and limit, tested in tests/api/test_research.py) and would double the run.
    """
    _schemathesis(server.url, tmp_path, "--exclude-path-regex", "^/export/")
