"""Retrieval evaluation: run an eval set through the searcher, score with ranx.

Relevance is by content, as the eval set defines it: a returned passage is
relevant when its normalised text contains an evidence string.  To let ranx
compute the metrics, each returned passage is mapped to the evidence string
it answers (its "relevant document"); a passage repeating an evidence string
already credited earns nothing, exactly as ``shared/eval/score.py`` does.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.schemas import Filters, Mode, SearchRequest
from indexer.search import Searcher
from indexer.textnorm import normalize_for_match

if TYPE_CHECKING:
    from ranx import Qrels, Run

METRICS = ("ndcg_burges@10", "recall@10", "mrr@10")
LABELS = {"ndcg_burges@10": "nDCG@10", "recall@10": "Recall@10", "mrr@10": "MRR@10"}
_SPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")


@dataclass(slots=True, frozen=True)
class EvalQuery:
    qid: str
    query: str
    kind: str
    filters: dict[str, object]
    evidence: dict[str, int]  # normalised evidence string -> grade


def normalise(text: str) -> str:
    """The eval set's matching normalisation: NFKC, no whitespace, simplified."""
    return normalize_for_match(_SPACE.sub("", unicodedata.normalize("NFKC", text)))


class EvalSetError(ValueError):
    """The eval set file cannot be read; the message names the line."""


def load_queries(path: Path) -> list[EvalQuery]:
    queries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EvalSetError(f"cannot read the eval set {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            evidence: dict[str, int] = {}
            for rel in rec["relevant"]:
                for ev in rel["evidence"]:
                    key = normalise(ev)
                    evidence[key] = max(evidence.get(key, 0), int(rel["grade"]))
            queries.append(
                EvalQuery(
                    rec["id"],
                    rec["query"],
                    rec.get("kind", "all"),
                    rec.get("filters") or {},
                    evidence,
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise EvalSetError(
                f"{path}, line {number}: not an eval query ({type(e).__name__}: {e}); "
                "each line is a JSON object with id, query and relevant"
            ) from e
    if not queries:
        raise EvalSetError(f"{path} holds no queries")
    return queries


def run_queries(
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    mode: Mode,
    k: int = 10,
    progress: Callable[[], None] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Ranked passages per query id, as the API would return them; ``progress`` after each."""
    out = {}
    for q in queries:
        res = searcher.search(
            SearchRequest(q=q.query, k=k, mode=mode, filters=Filters(**q.filters))
        )
        out[q.qid] = [{"passage_id": h.passage_id, "text": h.text} for h in res.hits]
        if progress is not None:
            progress()
    return out


def _qrels_and_run(
    queries: Sequence[EvalQuery], results: dict[str, list[dict[str, str]]]
) -> tuple[Qrels, Run]:
    from ranx import Qrels, Run

    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in queries:
        ids = {ev: f"ev{i}" for i, ev in enumerate(q.evidence)}
        qrels[q.qid] = {ids[ev]: grade for ev, grade in q.evidence.items()}
        ranked: dict[str, float] = {}
        hits = results.get(q.qid, [])
        for rank, hit in enumerate(hits):
            text = normalise(hit["text"])
            contained = sorted(
                (ev for ev in q.evidence if ev in text), key=lambda ev: -q.evidence[ev]
            )
            fresh = [ids[ev] for ev in contained if ids[ev] not in ranked]
            doc = fresh[0] if fresh else f"p:{hit['passage_id']}:{rank}"
            ranked[doc] = float(len(hits) - rank)
        run[q.qid] = ranked or {"none": 0.0}
    return Qrels(qrels), Run(run)


def score(
    queries: Sequence[EvalQuery], results: dict[str, list[dict[str, str]]]
) -> dict[str, dict[str, float]]:
    """Metrics overall and per query kind: {"all": {...}, "keyword": {...}, ...}."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's notes on its own compilation
        from ranx import evaluate

    groups: dict[str, list[EvalQuery]] = {"all": list(queries)}
    for q in queries:
        groups.setdefault(q.kind, []).append(q)
    out = {}
    for name, group in groups.items():
        qrels, run = _qrels_and_run(group, results)
        values = evaluate(qrels, run, list(METRICS), make_comparable=True)
        out[name] = {LABELS[m]: round(float(values[m]), 4) for m in METRICS} | {"n": len(group)}
    return out


def write_results(path: Path, results: dict[str, list[dict[str, str]]]) -> None:
    """One line per query in the format ``shared/eval/score.py`` reads."""
    with path.open("w", encoding="utf-8") as f:
        for qid, passages in results.items():
            f.write(json.dumps({"id": qid, "passages": passages}, ensure_ascii=False) + "\n")


def evaluate_modes(
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    modes: Iterable[Mode],
    progress: Callable[[], None] | None = None,
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, list[dict[str, str]]]]]:
    """Scores and raw results for each mode; ``progress`` is called after each query."""
    scores, raw = {}, {}
    for mode in modes:
        raw[mode] = run_queries(searcher, queries, mode, progress=progress)
        scores[mode] = score(queries, raw[mode])
    return scores, raw
