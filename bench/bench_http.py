"""Benchmark: ``govspeech serve`` in its own process, timed from outside as a client sees it.

Starts the service on a free loopback port over an existing index, waits until
it is ready, then prints, for hybrid searches of distinct queries (the dev
queries and section headings, each asked once per pass, so no cache answers):
single-client latency p50/p95 over HTTP and the searcher's own ``took_ms``
(per mode with ``--modes``), and of the later pages of a query;
then throughput with ``--clients`` concurrent clients (queries/s, errors,
p50/p95); and the service's memory (PSS) at ready and after the runs.

    .venv/bin/python bench/bench_http.py /tmp/demo [--clients 8] [--seconds 20]
        [--modes keyword,dense,hybrid]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
#: Punctuation the keyword tokeniser drops: the digits that spell a query's n-th form.
_MARKS = "。！？；，、…～·："


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queries(client: httpx.Client, eval_file: Path, n: int) -> list[str]:
    """Dev queries, then section headings of their keyword hits (distinct, realistic)."""
    qs = [json.loads(line)["query"] for line in eval_file.read_text().splitlines() if line.strip()]
    sections = [
        hit["section"].split(" > ")[-1][:20]
        for q in qs
        for hit in client.get("/search", params={"q": q, "mode": "keyword"}).json()["hits"]
        if hit["section"]
    ]
    seen: set[str] = set()
    return [q for q in qs + sections if not (q in seen or seen.add(q))][:n]


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (serve's worker processes, Milvus Lite's server)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, parent in parents.items() if parent == p]
    return out


def memory_mb(pid: int) -> dict[str, float]:
    """Proportional set size and its parts, summed over the service's processes.

    PSS splits a page shared by several processes between them, so the workers'
    one copy of a mapped file counts once (RSS counted it once per worker).
    Anonymous: heap and arrays; file: mapped files, which the kernel can take back.
    """
    fields = ("Pss", "Pss_Anon", "Pss_File")
    out = dict.fromkeys(fields, 0.0)
    for p in family(pid):
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in fields:
                out[key] += int(value.split()[0]) / 1024
    return out


def memory(m: dict[str, float]) -> str:
    return (
        f"PSS {m['Pss']:.0f} MB = {m['Pss_Anon']:.0f} MB anonymous + {m['Pss_File']:.0f} MB files"
    )


@contextlib.contextmanager
def service(index_dir: Path) -> Iterator[tuple[str, int, float]]:
    """``govspeech serve`` over ``index_dir`` on a free port: its URL, pid, seconds to ready."""
    port = free_port()
    env = {**os.environ, "GOVSPEECH_INDEX_DIR": str(index_dir)}
    command = [sys.executable, "-c", "from govspeech.cli import main; main()", "serve"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{url}/health").json()["status"] == "ready":
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.perf_counter() - started > 120:
                sys.exit(f"the service over {index_dir} did not become ready")
            time.sleep(0.2)
        yield url, server.pid, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--modes", default="hybrid", help="e.g. keyword,dense,hybrid")
    args = ap.parse_args()

    with service(args.index_dir) as (url, pid, ready_s):
        with httpx.Client(base_url=url, timeout=30) as client:
            qs = queries(client, args.eval, args.queries)
            for q in qs[:5]:  # the HTTP path; the service warmed its model itself
                client.get("/search", params={"q": q, "mode": "keyword"})
        print(f"ready after {ready_s:.1f} s; {memory(memory_mb(pid))}")
        modes = args.modes.split(",")
        for n, mode in enumerate(modes):
            print(single_client(url, [asked(q, n) for q in qs], mode))
        print(paging(url, [asked(q, len(modes)) for q in qs[-20:]]))
        cpu0 = cpu_seconds(pid)
        line, answered = throughput(url, qs, args.clients, args.seconds, len(modes) + 1)
        cpu = cpu_seconds(pid) - cpu0
        print(f"{line}; service CPU {cpu / max(answered, 1) * 1000:.1f} ms per query")
        print(f"after the runs: {memory(memory_mb(pid))}")


def asked(q: str, n: int) -> str:
    """The ``n``-th distinct form of ``q``: ``n`` written in punctuation after it (one or two
    marks up to n = 99). That changes the text the model encodes, not the keywords, so a
    query vector the service remembers never answers it."""
    marks = ""
    while n:
        n, digit = divmod(n, len(_MARKS))
        marks += _MARKS[digit]
    return q + marks


def single_client(url: str, qs: list[str], mode: str) -> str:
    """One client asking ``qs`` one after another in ``mode``: HTTP and searcher p50/p95."""
    conn = _connect(url)
    http_ms, took_ms = [], []
    for q in qs:
        ms, status, body = _search(conn, {"q": q, "k": 10, "mode": mode})
        if status != 200:
            sys.exit(f"{mode} search failed ({status}): {body[:200]!r}")
        http_ms.append(ms)
        took_ms.append(float(json.loads(body)["took_ms"]))
    conn.close()
    return (
        f"1 client, {mode}, {len(qs)} queries: HTTP p50 {statistics.median(http_ms):.1f} ms, "
        f"p95 {percentile(http_ms, 95):.1f} ms; searcher p50 {statistics.median(took_ms):.1f} ms"
    )


def paging(url: str, qs: list[str], pages: int = 5) -> str:
    """One client reading ``pages`` pages of hybrid hits for each of ``qs``: what the later
    pages cost, whose query vector the service remembers from the first."""
    conn = _connect(url)
    later = []
    for q in qs:
        for page in range(pages):
            ms, status, body = _search(conn, {"q": q, "k": 10, "offset": 10 * page})
            if status != 200:
                sys.exit(f"paging failed ({status}): {body[:200]!r}")
            if page:
                later.append(ms)
    conn.close()
    return (
        f"1 client, hybrid, pages 2-{pages} of {len(qs)} new queries: HTTP p50 "
        f"{statistics.median(later):.1f} ms, p95 {percentile(later, 95):.1f} ms"
    )


def _connect(url: str) -> http.client.HTTPConnection:
    """A kept-alive connection by ``http.client``, not httpx: a client costing ~7 ms of CPU
    a request would take a quarter of the two cores the service is measured on, and add
    its own milliseconds to every latency."""
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _search(
    conn: http.client.HTTPConnection, params: dict[str, object]
) -> tuple[float, int, bytes]:
    """One ``GET /search``: milliseconds until the whole answer is read, status, body."""
    t0 = time.perf_counter()
    conn.request("GET", "/search?" + urllib.parse.urlencode(params))
    r = conn.getresponse()
    body = r.read()
    return (time.perf_counter() - t0) * 1000, r.status, body


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the service's processes so far."""
    total = 0
    for p in family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def throughput(
    url: str, qs: list[str], clients: int, seconds: float, first: int
) -> tuple[str, int]:
    """``clients`` threads each asking distinct queries for ``seconds``: pass p over ``qs``
    asks their ``first + p``-th forms (:func:`asked`)."""
    lock = threading.Lock()
    times: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    def run(n: int) -> None:
        conn = _connect(url)
        i = n
        while time.perf_counter() < deadline:
            q = asked(qs[i % len(qs)], first + i // len(qs))
            i += clients
            ms, status, body = _search(conn, {"q": q, "k": 10})
            with lock:
                if status == 200:
                    times.append(ms)
                else:
                    errors.append(body.decode(errors="replace"))
        conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return (
        f"{clients} clients, {wall:.0f} s: {len(times) / wall:.1f} queries/s, "
        f"{len(errors)} errors{f' (first: {errors[0][:80]})' if errors else ''}; "
        + (
            f"p50 {statistics.median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms"
            if times
            else "none answered"
        )
    ), len(times)


if __name__ == "__main__":
    main()
