"""Soak: mixed queries from 8 clients for 10 minutes while the index is rebuilt and swapped.

Usage::

    .venv/bin/python bench/soak.py --seed-index /tmp/demo [--minutes 10] [--clients 8]

The demo corpus (national reports, provincial reports, the scraped speech) is
copied into a work folder and served by a real ``govspeech serve`` process;
three times during the run one report is edited and ``govspeech index``
re-indexes the folder, so the service swaps versions under load.
``--seed-index`` names an index of the same corpus whose embedding cache is
copied in, so the first build embeds nothing. Prints requests, errors (any
answer but 200 and the documented 503 of the concurrency limit), p50/p99
latency, versions served and the server's resident memory at start and end.
Loopback only; every loop is bounded by the run's duration.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DEMO = ("national-reports", "provincial-2026", "scraped-speech")
EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"
GOVSPEECH = [sys.executable, "-c", "from govspeech.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--seed-index", type=Path, help="an index of the demo corpus to take vectors from"
    )
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--swaps", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="govspeech-soak-"))
    corpus, index = work / "corpus", work / "index"
    for name in DEMO:
        shutil.copytree(CORPUS / name, corpus / name)
    index.mkdir()
    if args.seed_index and (args.seed_index / "embeddings.sqlite").is_file():
        shutil.copy(args.seed_index / "embeddings.sqlite", index / "embeddings.sqlite")
    t0 = time.perf_counter()
    _index(corpus, index)
    print(f"initial build            {time.perf_counter() - t0:.0f} s")

    port = _free_port()
    server = subprocess.Popen(
        [*GOVSPEECH, "serve", "--port", str(port), "--index-dir", str(index)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        rss_start = _rss(server.pid)
        results = _run(url, corpus, index, args)
        rss_end = _rss(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    _report(results, rss_start, rss_end, args)


def _run(url: str, corpus: Path, index: Path, args: argparse.Namespace) -> dict[str, list]:
    queries = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    deadline = time.monotonic() + args.minutes * 60
    lock = threading.Lock()
    results: dict[str, list] = {"latency": [], "status": [], "version": [], "swaps": []}

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                q = rng.choice(queries)
                params: dict[str, object] = {
                    "q": q["query"],
                    "mode": rng.choice(["hybrid", "hybrid", "dense", "keyword"]),
                    "k": rng.choice([5, 10, 20]),
                    "offset": rng.choice([0, 0, 0, 10, 50]),
                    "context": rng.choice([0, 0, 1]),
                }
                params.update(q.get("filters") or {})
                t = time.perf_counter()
                try:
                    r = http.get("/search", params=params)
                    status, version = r.status_code, r.json().get("version")
                except httpx.HTTPError as e:
                    status, version = f"{type(e).__name__}", None
                with lock:
                    results["latency"].append((time.perf_counter() - t) * 1000)
                    results["status"].append(status)
                    results["version"].append(version)

    def reindexer() -> None:
        report = corpus / "provincial-2026" / "2026_浙江省_政府工作报告.csv"
        for n in range(1, args.swaps + 1):
            at = deadline - args.minutes * 60 + n * args.minutes * 60 / (args.swaps + 1)
            while time.monotonic() < at:
                time.sleep(0.5)
            text = report.read_text(encoding="utf-8-sig")
            report.write_text(
                text.replace("。", f"。第{n}次补充：推进科技成果转化。", 1), encoding="utf-8-sig"
            )
            t = time.perf_counter()
            version = _index(corpus, index)
            results["swaps"].append((version, round(time.perf_counter() - t, 1)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=reindexer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _report(
    results: dict[str, list], rss_start: int, rss_end: int, args: argparse.Namespace
) -> None:
    status = results["status"]
    busy = sum(1 for s in status if s == 503)
    errors = [s for s in status if s not in (200, 503)]
    lat = sorted(results["latency"])
    growth = 100 * (rss_end - rss_start) / rss_start
    print(f"duration                 {args.minutes:g} min, {args.clients} clients")
    print(f"requests                 {len(status):,} ({len(status) / (args.minutes * 60):.1f}/s)")
    print(f"errors                   {len(errors)} {sorted(set(map(str, errors)))}")
    print(f"503 busy (documented)    {busy}")
    print(
        f"latency                  p50 {statistics.median(lat):.1f} ms, p99 {lat[int(len(lat) * 0.99)]:.1f} ms"
    )
    print(f"re-index runs            {results['swaps']}")
    print(f"versions served          {sorted({v for v in results['version'] if v})}")
    print(
        f"server RSS               {rss_start / 1e6:.0f} MB at start, {rss_end / 1e6:.0f} MB at end ({growth:+.1f}%)"
    )


def _index(corpus: Path, index: Path) -> str:
    done = subprocess.run(
        [*GOVSPEECH, "index", str(corpus), "--index-dir", str(index), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["version"]


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
