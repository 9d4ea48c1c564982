"""The ``govspeech`` command on the real test index."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from govspeech import cli
from govspeech.cli import LogProgress, app
from indexer.settings import Settings

pytestmark = pytest.mark.integration  # real model, index, server or browser

runner = CliRunner()


def test_search_json_lists_hits_with_document_metadata(index_settings: Settings) -> None:
    result = runner.invoke(
        app,
        [
            "search",
            "成果转化 措施",
            "-k",
            "3",
            "--json",
            "--index-dir",
            str(index_settings.index_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for hit in hits:
        assert {"passage_id", "score", "text", "section", "document"} <= set(hit)
        assert hit["document"]["title"]


def test_search_prints_ranked_passages(index_settings: Settings) -> None:
    result = runner.invoke(
        app,
        ["search", "冰雪经济", "--region", "江西", "--index-dir", str(index_settings.index_dir)],
    )
    assert result.exit_code == 0, result.output
    assert "1. " in result.stdout and "江西省" in result.stdout
    assert "also searched for: " in result.output, "hybrid names its feedback words"


def test_bad_input_is_a_clear_error(index_settings: Settings, tmp_path: Path) -> None:
    empty = runner.invoke(app, ["search", " ", "--index-dir", str(index_settings.index_dir)])
    assert empty.exit_code == 1 and "empty" in empty.output
    no_index = runner.invoke(app, ["search", "成果转化", "--index-dir", str(tmp_path / "none")])
    assert no_index.exit_code == 1
    assert isinstance(no_index.exception, SystemExit | None), "a message, not a traceback"
    assert f"no index in {tmp_path / 'none'}" in no_index.output
    assert "govspeech index" in no_index.output
    missing = runner.invoke(app, ["index", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "no such file or folder" in missing.output


def test_index_ends_with_its_figures(tmp_path: Path) -> None:
    folder = tmp_path / "speeches"
    folder.mkdir()
    speech = Path(cli.__file__).parents[1] / "corpus" / "sample" / "科技成果转化推进会讲话.txt"
    (folder / speech.name).write_bytes(speech.read_bytes())
    command = ["index", str(folder), "--index-dir", str(tmp_path / "index")]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "windows/s)" in first.output and " embedded in " in first.output
    assert "B per passage), embedding cache " in first.output
    again = runner.invoke(app, command)
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert "on disk: version " in again.output, "a no-change run says what the index takes too"


def test_progress_without_a_terminal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    progress = LogProgress(every=0)
    with caplog.at_level(logging.INFO, logger="govspeech.cli"):
        progress.stage("embedding passages", 1200, "windows")
        progress.advance(300)
        progress.stage("writing index", None, "passages")
        progress.advance(5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "embedding passages: 1,200 windows to do"
    assert lines[1].startswith("embedding passages: 300/1,200 windows (")
    assert "windows/s, about" in lines[1] and lines[1].endswith("left)")
    assert lines[2] == "writing index ..."  # a step without a count says it began
    assert lines[3].startswith("writing index: 5 passages (") and "left" not in lines[3]


def test_hits_wrap_under_their_indent_on_a_terminal_and_stay_whole_when_piped(
    index_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["search", "科技创新 人才", "-k", "3", "--index-dir", str(index_settings.index_dir)]
    piped = runner.invoke(app, args)
    assert piped.exit_code == 0, piped.output
    long = [line for line in piped.stdout.splitlines() if cell_len(line) > 80]
    assert long and all(line.startswith("   ") for line in long), "a paragraph is one line"

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80, color_system=None)
    monkeypatch.setattr(cli, "out", terminal)
    assert runner.invoke(app, args).exit_code == 0
    lines = screen.getvalue().splitlines()
    assert len(lines) > len(piped.stdout.splitlines())
    assert all(cell_len(line) <= 80 for line in lines)
    assert all(line.startswith("   ") for line in lines if not line[:1].isdigit()), (
        "continuation lines keep the indent"
    )


def test_research_commands_print_tables_and_export(index_settings: Settings) -> None:
    where = ["--index-dir", str(index_settings.index_dir)]
    trend = runner.invoke(app, ["trends", "新质生产力", "--year-from", "2019", *where])
    assert trend.exit_code == 0, trend.output
    lines = {line.split()[0]: line for line in trend.stdout.splitlines()[1:]}
    assert "(no document)" in lines["2020"] and lines["2025"].split()[2] != "0"
    rows = list(csv.reader(io.StringIO(runner.invoke(
        app, ["search", "科技创新", "-k", "5", "--format", "csv", *where]
    ).stdout.lstrip("\ufeff"))))  # fmt: skip
    assert rows[0][:3] == ["rank", "score", "title"] and len(rows) == 6
    compared = runner.invoke(app, ["compare", "低空经济", "--year", "2026", *where])
    assert compared.exit_code == 0 and "浙江省" in compared.stdout
    bad = runner.invoke(app, ["trends", "成果转化", "--by", "speaker", *where])
    assert bad.exit_code == 1 and "by:" in bad.output
    missing = runner.invoke(app, ["similar", "no-such-passage", *where])
    assert missing.exit_code == 1 and "no passage with id" in missing.output


@pytest.mark.integration
def test_serve_answers_from_its_worker_processes(index_settings: Settings) -> None:
    """The real command, as a user starts it: two worker processes behind one port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-c", "from govspeech.cli import main; main()", "serve"]
    server = subprocess.Popen(
        [*command, "--index-dir", str(index_settings.index_dir), "--port", str(port)],
        env={**os.environ, "GOVSPEECH_WORKERS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the service never said ready"
            try:
                if httpx.get(f"{url}/health").json()["status"] == "ready":
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        children = [
            p
            for p in os.listdir("/proc")
            if p.isdigit()
            and _parent(int(p)) == server.pid
            and "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        ]
        assert len(children) == 2
        found = httpx.get(f"{url}/search", params={"q": "科技成果转化", "k": 3}, timeout=30)
        assert found.status_code == 200 and found.json()["hits"]
    finally:
        server.terminate()
        server.wait(30)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1


def test_a_bad_setting_in_the_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setenv("GOVSPEECH_ADMIN_TOKEN", "short")
    try:
        result = runner.invoke(app, ["search", "经济"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "GOVSPEECH_ADMIN_TOKEN: must be at least 16 characters" in result.output
    assert "Traceback" not in result.output
