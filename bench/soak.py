"""Soak: mixed requests from 8 clients for 10 minutes while the index is rebuilt and swapped.

Usage::

    .venv/bin/python bench/soak.py --seed-index /tmp/demo [--minutes 10] [--clients 8] [--milvus]

The demo corpus (national reports, provincial reports, the scraped speech) is
copied into a work folder and served by a real ``govspeech serve`` process (two
worker processes); three times during the run one report is edited and
``govspeech index`` re-indexes the folder, so the service swaps versions under
load. Clients mix searches in every mode, trends, comparisons and passage
lookups. With ``--milvus`` the index is built into a ``milvus-lite server`` on
a loopback port and served by a replica that holds only its address; midway,
the Milvus server is stopped for 20 s and started again.

A health poller asks ``/health`` every second and, right after, makes a cheap
probe search: ``ready`` must come with a 200, ``degraded`` with a 503 (polls
within 3 s of a stop or start of Milvus are transitions and not judged).
``--seed-index`` names an index of the same corpus whose embedding cache is
copied in, so the first build embeds nothing. Prints requests, 5xx, refusals
(503) and how many lacked Retry-After, p50/p99 latency, versions served, health
polls judged and disagreeing, and the service's resident memory (all its
processes) at start and end. Loopback only; every loop is bounded by the run's
duration.
"""

from __future__ import annotations

import argparse
import json
import os
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
#: Seconds Milvus stays stopped in --milvus runs, and the window around a stop or a start
#: in which health is in transition (not judged).
MILVUS_DOWN_S, TRANSITION_S = 20.0, 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--seed-index", type=Path, help="an index of the demo corpus to take vectors from"
    )
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--swaps", type=int, default=3)
    ap.add_argument("--milvus", action="store_true", help="a replica on a milvus-lite server")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="govspeech-soak-"))
    corpus, index, replica = work / "corpus", work / "index", work / "replica"
    for name in DEMO:
        shutil.copytree(CORPUS / name, corpus / name)
    index.mkdir()
    if args.seed_index and (args.seed_index / "embeddings.sqlite").is_file():
        shutil.copy(args.seed_index / "embeddings.sqlite", index / "embeddings.sqlite")
    milvus = _Milvus(work / "milvus-data") if args.milvus else None
    env = dict(os.environ)
    if milvus is not None:
        env |= {"GOVSPEECH_CATALOG": "milvus", "GOVSPEECH_MILVUS_URI": milvus.uri}
    t0 = time.perf_counter()
    _index(corpus, index, env)
    print(f"initial build            {time.perf_counter() - t0:.0f} s")

    port = _free_port()
    served = replica if milvus is not None else index
    server = subprocess.Popen(
        [*GOVSPEECH, "serve", "--port", str(port), "--index-dir", str(served)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        time.sleep(5)  # the workers' first queries settle
        rss_start = _rss_tree(server.pid)
        anon_start = _rss_tree(server.pid, "RssAnon")
        results = _run(url, corpus, index, env, milvus, args)
        rss_end = _rss_tree(server.pid)
        results["anon"] = [anon_start, _rss_tree(server.pid, "RssAnon")]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if milvus is not None:
            milvus.stop()
        shutil.rmtree(work, ignore_errors=True)
    _report(results, rss_start, rss_end, args)


class _Milvus:
    """``milvus-lite server`` on a loopback port, stopped and started on request."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        binary = Path(sys.executable).with_name("milvus-lite")
        self.proc = subprocess.Popen(
            [str(binary), "server", "--data-dir", str(self.data), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError("milvus-lite server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def _run(
    url: str,
    corpus: Path,
    index: Path,
    env: dict[str, str],
    milvus: _Milvus | None,
    args: argparse.Namespace,
) -> dict[str, list]:
    queries = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    start = time.monotonic()
    deadline = start + args.minutes * 60
    lock = threading.Lock()
    results: dict[str, list] = {
        "latency": [], "status": [], "no_retry_after": [], "version": [], "swaps": [],
        "health": [], "events": [], "passages": [], "reasons": [], "failures": [],
    }  # fmt: skip

    def request(http: httpx.Client, rng: random.Random) -> httpx.Response:
        q = rng.choice(queries)
        kind = rng.random()
        if kind < 0.08:
            return http.get("/trends", params={"q": q["query"]})
        if kind < 0.14:
            return http.get("/compare", params={"q": q["query"], "year": 2026})
        if kind < 0.22 and results["passages"]:
            return http.get(f"/passages/{rng.choice(results['passages'])}", params={"context": 1})
        params: dict[str, object] = {
            "q": q["query"],
            "mode": rng.choice(["hybrid", "hybrid", "dense", "keyword"]),
            "k": rng.choice([5, 10, 20]),
            "offset": rng.choice([0, 0, 0, 10, 50]),
            "context": rng.choice([0, 0, 1]),
        }
        params.update(q.get("filters") or {})
        return http.get("/search", params=params)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                try:
                    r = request(http, rng)
                    status = r.status_code
                    body = r.json()
                    version = body.get("version")
                    if status == 200 and len(results["passages"]) < 500:
                        for hit in body.get("hits", [])[:1]:
                            results["passages"].append(hit["passage_id"])
                    missing_retry = status == 503 and "retry-after" not in r.headers
                    if status == 503:
                        with lock:
                            results["reasons"].append((time.monotonic(), _reason(body)))
                except httpx.HTTPError as e:
                    status, version, missing_retry = f"{type(e).__name__}", None, False
                    # which route, and when (the outage is between the two events)
                    try:
                        route = e.request.url.path
                    except RuntimeError:  # raised before a request was made
                        route = "?"
                    with lock:
                        results["failures"].append((time.monotonic(), route, status))
                with lock:
                    results["latency"].append((time.perf_counter() - t) * 1000)
                    results["status"].append(status)
                    results["version"].append(version)
                    results["no_retry_after"].append(missing_retry)

    def health() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                at = time.monotonic()
                try:
                    said = http.get("/health").json()["status"]
                    probe = http.get("/search", params={"q": "科技成果转化", "mode": "keyword"})
                    why = _reason(probe.json()) if probe.status_code == 503 else ""
                    results["health"].append((at, said, probe.status_code, why))
                except httpx.HTTPError as e:
                    results["health"].append((at, type(e).__name__, None, ""))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - at)))

    def reindexer() -> None:
        report = corpus / "provincial-2026" / "2026_浙江省_政府工作报告.csv"
        for n in range(1, args.swaps + 1):
            at = start + n * args.minutes * 60 / (args.swaps + 1)
            while time.monotonic() < at:
                time.sleep(0.5)
            text = report.read_text(encoding="utf-8-sig")
            report.write_text(
                text.replace("。", f"。第{n}次补充：推进科技成果转化。", 1), encoding="utf-8-sig"
            )
            t = time.perf_counter()
            try:
                version = _index(corpus, index, env)
            except subprocess.CalledProcessError as e:  # Milvus away at that moment
                version = f"failed: {e.stderr.strip().splitlines()[-1] if e.stderr else e}"
            results["swaps"].append((version, round(time.perf_counter() - t, 1)))

    def outage() -> None:
        assert milvus is not None
        at = start + args.minutes * 60 * 0.6  # between the second and the third swap
        while time.monotonic() < at:
            time.sleep(0.5)
        results["events"].append(time.monotonic())
        milvus.stop()
        time.sleep(MILVUS_DOWN_S)
        milvus.start()
        results["events"].append(time.monotonic())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=reindexer), threading.Thread(target=health)]
    if milvus is not None:
        threads.append(threading.Thread(target=outage))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _report(
    results: dict[str, list], rss_start: int, rss_end: int, args: argparse.Namespace
) -> None:
    status = results["status"]
    refused = sum(1 for s in status if s == 503)
    errors = [s for s in status if s not in (200, 503)]
    fives = [s for s in status if isinstance(s, int) and s >= 500 and s != 503]
    lat = sorted(results["latency"])
    growth = 100 * (rss_end - rss_start) / rss_start
    events = results["events"]
    judged = [
        (said, probe, why)
        for at, said, probe, why in results["health"]
        if not any(abs(at - e) < TRANSITION_S for e in events)
    ]
    # a ready service that sheds load (its search slots full, or a search past its time
    # budget: Retry-After 1) says so in the 503 itself; health says whether it can answer
    shed = [j for j in judged if j[0] == "ready" and j[1] == 503 and j[2] in _SHEDDING]
    wrong = [
        (said, probe, why)
        for said, probe, why in judged
        if not ((said == "ready" and probe == 200) or (said == "degraded" and probe == 503))
        and (said, probe, why) not in shed
    ]
    print(
        f"duration                 {args.minutes:g} min, {args.clients} clients"
        f"{', Milvus replica (stopped ' + str(MILVUS_DOWN_S) + ' s once)' if args.milvus else ''}"
    )
    print(f"requests                 {len(status):,} ({len(status) / (args.minutes * 60):.1f}/s)")
    print(f"5xx other than 503       {len(fives)}")
    for at, route, what in results["failures"]:
        when = (
            f"{at - events[0]:+.0f} s from Milvus's stop" if events else f"{at:.0f} s (monotonic)"
        )
        print(f"  {what} on {route}, {when}")
    print(f"errors (not 200 or 503)  {len(errors)} {sorted(set(map(str, errors)))}")
    print(
        f"503 refusals             {refused} (without Retry-After: {sum(results['no_retry_after'])})"
    )
    reasons: dict[str, int] = {}
    for _, why in results["reasons"]:
        reasons[why] = reasons.get(why, 0) + 1
    print(f"  why                    {sorted(reasons.items(), key=lambda kv: -kv[1])}")
    if len(events) == 2:  # Milvus stopped and started: which refusals fall outside the outage
        outside = [
            why
            for at, why in results["reasons"]
            if not events[0] - TRANSITION_S <= at <= events[1] + TRANSITION_S
        ]
        print(
            f"  outside the outage     {len(outside)} "
            f"(unavailable {outside.count('unavailable')}, busy {outside.count('busy')}, "
            f"timeout {outside.count('timeout')})"
        )
    print(f"health polls judged      {len(judged)} of {len(results['health'])}, "
          f"disagreeing with a probe: {len(wrong)} {sorted(set(wrong))[:5]}; "
          f"ready while the probe was shed for load: {len(shed)}")  # fmt: skip
    print(
        f"latency                  p50 {statistics.median(lat):.1f} ms, p99 {lat[int(len(lat) * 0.99)]:.1f} ms"
    )
    print(f"re-index runs            {results['swaps']}")
    print(f"versions served          {sorted({v for v in results['version'] if v})}")
    print(
        f"server RSS               {rss_start / 1e6:.0f} MB at start, {rss_end / 1e6:.0f} MB at end ({growth:+.1f}%)"
    )
    a0, a1 = results["anon"]
    print(
        f"  of which not file pages {a0 / 1e6:.0f} MB at start, {a1 / 1e6:.0f} MB at end "
        f"({100 * (a1 - a0) / a0:+.1f}%)"
    )


#: Reasons of a 503 that sheds load from a service that can answer (``_reason``'s words).
_SHEDDING = ("busy", "timeout", "deadline")


def _reason(body: dict[str, object]) -> str:
    """A 503's reason in a word: busy (no search slot), timeout (past the time budget),
    deadline (no answer begun in time, api.limits.Deadline), unavailable (the backend or
    index cannot answer), or its first words."""
    detail = str(body.get("detail", ""))
    if detail.startswith("busy"):
        return "busy"
    if "took longer than" in detail:
        return "timeout"
    if detail.startswith("no answer within"):
        return "deadline"
    if "did not answer" in detail or "not loaded" in detail or "cannot be" in detail:
        return "unavailable"
    return detail[:40]


def _index(corpus: Path, index: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*GOVSPEECH, "index", str(corpus), "--index-dir", str(index), "--json"],
        cwd=ROOT,
        env=env,
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


def _rss_tree(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of the server and its worker processes (``field`` of their status:
    VmRSS, or RssAnon, the part that is not pages of mapped files)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _status(pid, field) + sum(_rss_tree(int(c), field) for c in children)


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
