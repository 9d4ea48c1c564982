"""The searcher: one index version answering keyword, dense and hybrid queries.

A search is a recipe of steps, each in its place: the query is analysed once
(:mod:`indexer.analysis`) and the analysis handed to every step; filters become a scope
(:mod:`indexer.filtering`) that both retrievers apply *before* taking their top candidates,
so a filtered query returns the best passages inside the filter, never leftovers of an
unfiltered top-k; ranking (here) retrieves, fuses and boosts; results
(:mod:`indexer.results`) fold duplicates, page and build each hit. The searcher reads no
file: everything comes from the :class:`~indexer.version.version.Version` it is given. The
API, the CLI and the research tools call only this class's public methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.analysis import Analyser, Analysis
from indexer.chunk import sentence_windows
from indexer.errors import UserError
from indexer.exact import ExactTerms
from indexer.filtering import DocumentFilter, Scope, mask_of, scope_of
from indexer.fusion import Fused, Ranked, fuse
from indexer.intent import Intent, IntentReader
from indexer.keyword import Feedback, KeywordHits, KeywordSearch, top_rows
from indexer.manifest import model_mismatch
from indexer.query import ParsedQuery
from indexer.results import Results
from indexer.schemas import (
    MAX_HITS,
    BodyFilters,
    DocumentDetail,
    DocumentInfo,
    Filters,
    PassageDetail,
    SearchRequest,
    SearchResponse,
    UnderstoodFilter,
)
from indexer.settings import Settings
from indexer.store import PassageStore, StoredPassage
from indexer.version.version import Version, open_version

if TYPE_CHECKING:
    from indexer.dense import DenseBackend
    from indexer.embed import Embedder


#: How far a boost read from the question (a year it names its report by) moves a passage up,
#: on the [0, 1] score scale: figures in docs/query-intent.md.
BOOST = 0.1


class QueryError(UserError, ValueError):
    """A request the user has to change: the message says how."""


class ModelMismatch(UserError, RuntimeError):
    """The configured embedding model is not the one that built the index."""


class SearchTimeout(RuntimeError):
    """A search ran past its time budget (the machine is overloaded, or the query is costly)."""


@dataclass(slots=True)
class Pool:
    """A query's ranked passages before paging: rows best first, what to mark in them, and
    every row that matches (``matched``: more than the ranking holds when it is capped;
    ``None`` where only the ranked rows are known, as for dense similarity)."""

    ranked: Ranked
    analysis: Analysis
    message: str | None
    matched: np.ndarray | None = None

    @property
    def parsed(self) -> ParsedQuery:
        return self.analysis.parsed

    @property
    def terms(self) -> list[str]:
        return self.analysis.terms

    @property
    def marked(self) -> list[str]:
        return self.analysis.marked


class Searcher:
    """Read-only view of one index version; safe to share between threads.

    ``embedder`` may be a loader: keyword searches then never load the model,
    and the model is checked against the index on the first query that needs
    it (an :class:`Embedder` given directly is checked at once).
    """

    def __init__(
        self,
        version: Version,
        embedder: Embedder | Callable[[], Embedder],
        settings: Settings,
    ) -> None:
        self.version = version
        self.settings = settings
        self._embedder: Embedder | None = None
        self._load_embedder = embedder if callable(embedder) else lambda: embedder
        self._embedder_lock = threading.Lock()
        if not callable(embedder):  # an Embedder itself (a loader is callable, an Embedder not)
            self._embedder = self._checked(embedder)
        self._filter = DocumentFilter(version.rows)
        self._results = Results(version)
        #: one passage as a result: marked text, document, neighbours, citation
        self.hit = self._results.hit
        self._text = version.text
        #: the same without punctuation and spaces: text pasted from elsewhere (origin)
        self._compact = version.compact
        self.exact = ExactTerms(self._text, version.keyword)
        self._intent: IntentReader | None = None  # built from the facets on first use
        # analysing asks whether a word outside the vocabulary is in the archive; a search
        # that then scores the words (keyword, hybrid) asks for their rows at once, one call
        # per word on a replica, where a dense one asks for one row
        said = self._text.rows
        self._analyser = Analyser(lambda t: bool(len(said(t))), version.keyword, version.terms)
        self._glance = Analyser(self._text.says, version.keyword, version.terms)

    @classmethod
    def at(
        cls, folder: Path, embedder: Embedder | Callable[[], Embedder], settings: Settings
    ) -> Searcher:
        """A searcher over the version in ``folder``."""
        return cls(open_version(folder, settings), embedder, settings)

    @property
    def store(self) -> PassageStore:
        return self.version.store

    @property
    def keyword(self) -> KeywordSearch:
        return self.version.keyword

    @property
    def documents(self) -> list[DocumentInfo]:
        """Every document of the version; :meth:`document_of` says a row's."""
        return self.version.documents

    @property
    def passage_count(self) -> int:
        return self.version.passages

    def document_of(self, rows: np.ndarray | int) -> np.ndarray:
        """The index in :attr:`documents` of each of ``rows``' documents."""
        return self.version.rows.of(rows)

    def by_row(self, values: np.ndarray) -> np.ndarray:
        """A value per document (of :attr:`documents`) as one per passage row."""
        return self.version.rows.spread(values)

    @property
    def dense(self) -> DenseBackend:
        """The vector index, read on first use (:attr:`Version.dense`)."""
        return self.version.dense

    # ------------------------------------------- what the research tools read (and no more)
    def passages(self, rows: Sequence[int]) -> dict[int, StoredPassage]:
        """The passages of ``rows``, by row."""
        return self.version.store.passages_by_rows(list(rows))

    def row_of(self, passage_id: str) -> int | None:
        return self.version.store.passage_row(passage_id)

    @property
    def lengths(self) -> np.ndarray:
        """Characters of each passage."""
        return self._text.lengths

    def syntax_mask(self, parsed: ParsedQuery, check: Callable[[], None]) -> np.ndarray | None:
        """Rows the query's quoted phrases and exclusions let through (None: it has none)."""
        return self._text.mask(parsed, check)

    def containing_compact(self, key: str) -> np.ndarray:
        """Rows whose text, without punctuation and spaces, contains ``key`` (already so)."""
        return self._compact.rows(key)

    def compact_text(self, row: int) -> str:
        """Row ``row``'s text without punctuation and spaces."""
        return self._compact.text(row)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` as passage vectors of this version's model."""
        return self.embedder.encode_passages(list(texts))

    def encode_windows(self, text: str) -> np.ndarray:
        """``text`` cut into windows as a passage is indexed, each as a vector."""
        return self.encode_passages(sentence_windows(text, self.settings.embed_window_chars))

    def dense_nominees(self, vector: np.ndarray, k: int, scope: Scope | None) -> np.ndarray:
        """The ``k`` rows inside ``scope`` closest to ``vector`` (a passage's best window)."""
        return self.dense.search(vector, k, scope)[0]

    def dense_similarity(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Raw similarity of each row (its best window) to each vector: rows × vectors."""
        return self.dense.similarity(vectors, rows)

    def dense_scale(self, similarity: np.ndarray) -> np.ndarray:
        """Raw dense similarities on the [0, 1] scale every dense score is shown on."""
        return self.version.calibration.normalise(similarity)

    def problem(self) -> str | None:
        """Why a part this searcher has loaded cannot answer now (Milvus away), or None."""
        return self.version.problem()

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use; raises ModelMismatch for a foreign index."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._checked(self._load_embedder())
        return self._embedder

    def _checked(self, embedder: Embedder) -> Embedder:
        built, running = self.version.manifest.model, embedder.fingerprint()
        if diff := model_mismatch(built, running):
            if model_mismatch({**built, "weights": None}, {**running, "weights": None}) is None:
                fix = f"Set GOVSPEECH_ONNX_INT8={int(built.get('weights') == 'int8')}"
            elif built.get("model") != running.get("model"):
                fix = f"Set GOVSPEECH_MODEL to {built.get('model')!r}"
            else:
                fix = "Use the govspeech version that built it"
            raise ModelMismatch(
                f"index {self.version.name} was built with a different embedding model ({diff}). "
                f"{fix} to search it, or rebuild it with `govspeech index --full`."
            )
        return embedder

    def warm(self) -> None:
        """Load the model and touch every structure a query reads, so the first query is fast.

        The second has Latin letters, which load the tokenizer's full vocabulary, and a
        quoted phrase, which loads every passage's matching form.
        """
        self.search(SearchRequest(q="经济 发展", k=3, context=1))
        self.search(SearchRequest(q='"GDP" 增长', k=3))

    def analyse(
        self, query: str, check: Callable[[], None] | None = None, whole: bool = True
    ) -> Analysis:
        """``query`` analysed against this version: the one analysis every step reads
        (``check``: a time budget, run between its words; ``whole=False``: a one-word query
        is cut into its words too)."""
        return self._analyser.analyse(query, check, whole)

    @staticmethod
    def budget(started: float, seconds: float | None) -> Callable[[], None]:
        """A check that raises SearchTimeout once ``seconds`` have passed since ``started``."""
        return lambda: _within(started, seconds)

    # ------------------------------------------------------------------ search
    def search(self, req: SearchRequest, budget: float | None = None) -> SearchResponse:
        """Rank passages for ``req``; raises QueryError for requests to fix.

        ``budget`` (seconds) stops a search that runs longer with SearchTimeout,
        checked between its stages, so an overloaded service sheds work.
        """
        started = time.perf_counter()
        asked = req
        intent = self.read_intent(req)
        if intent is not None:
            req = _with_filters(req, intent)
        pool = self.pool(req, started, budget)
        if intent is not None and intent.boosts():
            pool.ranked = self._boosted(pool.ranked, Filters(**intent.boosts()))
        ranked, message = pool.ranked, pool.message
        if intent is not None and intent.notes:
            message = "; ".join([*intent.notes, *([message] if message else [])])
        # counted before the page: the page's rows are among the matching ones, so a store
        # that reads clusters remotely reads them once
        matching = None if pool.matched is None else self._results.count(pool.matched, req.collapse)
        hits, ranked_groups = self._results.page(req, ranked, pool.marked)
        _within(started, budget)
        if matching is None:  # the ranking is all that is known: it may stop at its limit
            total, capped = ranked_groups, len(ranked.rows) >= MAX_HITS
        else:
            total = max(matching, ranked_groups)
            capped = total > ranked_groups
        if not hits and message is None:
            message = "no passage matches" + (
                "" if req.filters.is_empty() else " within the filters"
            )
        return SearchResponse(
            query=asked.q.strip(),
            mode=req.mode,
            understood=[]
            if intent is None
            else [
                UnderstoodFilter(field=u.field, value=u.value, text=u.text, boost=u.boost)
                for u in intent.understood
            ],
            searched=None if intent is None or not intent.understood else req.q,
            terms=pool.terms,
            feedback_terms=list(ranked.feedback),
            filters=req.filters,
            offset=req.offset,
            k=req.k,
            total=total,
            total_capped=capped,
            ranked=ranked_groups,
            hits=hits,
            message=message,
            version=self.version.name,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def pool(
        self,
        req: SearchRequest,
        started: float | None = None,
        budget: float | None = None,
        analysis: Analysis | None = None,
    ) -> Pool:
        """The ranked pool of ``req`` (at most ``MAX_HITS`` passages, ``min_score`` applied);
        ``analysis`` is ``req.q``'s when the caller has it already."""
        started = time.perf_counter() if started is None else started
        check = self.budget(started, budget)
        analysis = analysis or self._check(req, check)
        parsed = analysis.parsed
        scope = self.scope(req.filters)
        syntax = self._text.mask(parsed, check)
        inside = scope_of(syntax) if scope is None else scope.narrowed(syntax)
        message = None
        ranked = Ranked(np.empty(0, np.int64), np.empty(0, np.float32), None, None)
        matched: np.ndarray | None = ranked.rows
        if not analysis.text:  # only exclusions: parsed.notes says so
            pass
        elif scope is not None and not scope.mask.any():
            message = "no passage matches these filters; remove or widen a filter"
        elif inside is not None and syntax is not None and not inside.mask.any():
            message = _no_phrase_message(parsed, syntax, mask_of(scope))
        else:
            ranked, matched = self._rank(req, analysis, inside, syntax is not None)
            _within(started, budget)
            if req.mode == "keyword" and not analysis.terms:
                message = "the query has no searchable keywords (only stop words or punctuation)"
        if req.min_score is not None:
            keep = ranked.scores >= req.min_score
            ranked = Ranked(
                ranked.rows[keep],
                ranked.scores[keep],
                None if ranked.keyword is None else ranked.keyword[keep],
                None if ranked.dense is None else ranked.dense[keep],
                ranked.feedback,
            )
            matched = None  # scores below the pool are unknown
        message = "; ".join([*parsed.notes, *([message] if message else [])]) or None
        return Pool(ranked, analysis, message, matched)

    def _check(self, req: SearchRequest, check: Callable[[], None] | None = None) -> Analysis:
        """The query to search for; the request types have checked its length and paging."""
        if not req.q.strip():
            raise QueryError("the query is empty: type some words to search for")
        return (self._analyser if req.mode != "dense" else self._glance).analyse(req.q, check)

    def _rank(
        self, req: SearchRequest, a: Analysis, scope: Scope | None, restricted: bool
    ) -> tuple[Ranked, np.ndarray | None]:
        """The ranked pool of one query (at most ``MAX_HITS`` passages, the same at every
        offset) and every row that matches it.

        A fixed pool is what keeps ``total`` and every page stable while paging:
        keyword and dense rank their best ``MAX_HITS``; hybrid fuses the
        ``candidate_depth`` best of each retriever. What matches: passages with
        a keyword score (and, in hybrid, the dense nominees); in any mode every
        passage that quoted phrases or exclusions let through.
        """
        depth = MAX_HITS
        if req.mode == "keyword":
            found = self.keyword_hits(a, depth, scope)
            kw = self._keyword_norm(a, found.scores)
            ranked = Ranked(found.rows, kw, kw, None)
            return ranked, _matching(found, scope, restricted)
        qvec = self.embedder.encode_query(a.text)
        nominate = self.settings.candidate_depth
        if req.mode == "dense":
            dn_rows, dn_scores = self.dense.search(qvec, depth, scope)
            dn = self.version.calibration.normalise(dn_scores)
            matched = scope.rows() if restricted and scope is not None else None
            return Ranked(dn_rows, dn, None, dn), matched
        dn_rows, feedback, bm25 = self._hybrid_inputs(a, qvec, scope, nominate)
        rows = np.union1d(bm25.rows, dn_rows)
        fused = self._first_containing(a, self._fuse(a, qvec, rows, bm25, feedback))
        keep = slice(0, depth)
        ranked = Ranked(
            fused.rows[keep], fused.scores[keep], fused.keyword[keep], fused.dense[keep], feedback
        )
        # what matches is the query's own words (feedback words only help rank) or the dense
        # side's nominees
        found = _matching(self.keyword_hits(a, 0, scope), scope, restricted)
        return ranked, None if found is None else np.union1d(found, dn_rows)

    def keyword_hits(
        self,
        a: Analysis,
        k: int,
        scope: Scope | None = None,
        feedback: Feedback | None = None,
        also: np.ndarray | None = None,
    ) -> KeywordHits:
        """BM25 of the query's exact terms (from the passages' text) and of its other terms and
        ``feedback`` words (from the keyword index): the ``k`` best rows inside ``scope`` and
        the score of any row (``full``: every row's, where the index computes them all).

        ``also``: rows whose scores will be asked next (hybrid's dense nominees); a remote
        index scores them with the best rows, in the same request."""
        side = self.keyword.search(a.tokens, k, scope, feedback)
        mask = mask_of(scope)
        if not a.units:
            return side
        exact = self.exact.scores(a.units)
        if side.full is not None or not (a.tokens or feedback):
            # every row's score is known: the exact terms' (from the text) and, where the
            # keyword index computes them all, its own; a remote index then matches nothing
            full = exact if side.full is None else exact + side.full
            rows = top_rows(full, k, mask) if k else np.empty(0, np.int64)
            return KeywordHits(rows, full[rows], full.__getitem__, full)
        # postings kept remotely: the best of each side, each scored on both
        best = top_rows(exact, k, mask) if k else np.empty(0, np.int64)
        rows = np.union1d(best, side.rows)
        of = _remembering(side.of, rows if also is None else np.union1d(rows, also))
        scores = exact[rows] + of(rows)
        order = np.lexsort((rows, -scores))[:k]
        order = order[scores[order] > 0]
        return KeywordHits(rows[order], scores[order], lambda r: exact[r] + of(r))

    def _first_containing(self, a: Analysis, fused: Fused) -> Fused:
        """A one-term query's passages that contain the term before the ones that do not.

        Someone who types one term wants the paragraphs that say it; the dense
        side's near neighbours that do not (代表 for 代表大会) follow them. Scores stay
        what fusion gave; only the order between the two tiers changes.
        """
        if a.one_term is None or not len(fused.rows):
            return fused
        says = self._text.containing(a.one_term)[fused.rows]
        order = np.argsort(~says, kind="stable")
        return Fused(
            fused.rows[order], fused.scores[order], fused.keyword[order], fused.dense[order]
        )

    def read_intent(self, req: SearchRequest) -> Intent | None:
        """The filters ``req.q`` names in its words (None when it names none, or parse is off).

        Only fields the request leaves empty are read (a filter the caller set wins).
        """
        if not req.parse:
            return None
        if self._intent is None:
            facets = self.facets()
            self._intent = IntentReader(
                [str(v["value"]) for v in facets["region"]],
                [str(v["value"]) for v in facets["speaker"]],
                [str(v["value"]) for v in facets["doc_type"]],
                [int(str(v["value"])) for v in facets["year"]],
            )
        intent = self._intent.read(req.q)
        named = req.filters.model_dump(exclude_none=True)
        kept = tuple(u for u in intent.understood if u.field not in named)
        if not kept and not intent.notes:
            return None
        return Intent(intent.query if kept else req.q, kept, intent.notes)

    def uses(self, a: Analysis) -> np.ndarray:
        """Rows that contain every phrase and term of ``a`` (after folding): where the query's
        words are said. Trends count these and compare calls the other groups silent."""
        keep = np.zeros(self.version.passages, dtype=bool)
        if a.required:
            keep[:] = True
            for needle in a.required:
                keep &= self._text.containing(needle)
        return keep

    def _boosted(self, ranked: Ranked, boost: Filters) -> Ranked:
        """``ranked`` ordered as if the passages inside ``boost`` scored :data:`BOOST` more
        (the scores shown stay their own, on the [0, 1] scale)."""
        inside = self.mask(boost)
        if inside is None or not len(ranked.rows):
            return ranked
        order = np.lexsort((ranked.rows, -(ranked.scores + BOOST * inside[ranked.rows])))
        return Ranked(
            ranked.rows[order],
            ranked.scores[order],
            None if ranked.keyword is None else ranked.keyword[order],
            None if ranked.dense is None else ranked.dense[order],
            ranked.feedback,
        )

    def hybrid_ranking(self, a: Analysis, rows: np.ndarray, scope: Scope | None) -> Fused:
        """``rows`` (any number) scored and ordered as a hybrid search would, feedback words
        taken from the best dense matches inside ``scope``."""
        qvec = self.embedder.encode_query(a.text)
        _, feedback, bm25 = self._hybrid_inputs(a, qvec, scope, 0)
        return self._first_containing(a, self._fuse(a, qvec, rows, bm25, feedback))

    def _hybrid_inputs(
        self, a: Analysis, qvec: np.ndarray, scope: Scope | None, k: int
    ) -> tuple[np.ndarray, Feedback, KeywordHits]:
        """The dense nominees, the feedback words they give, and BM25 with them: its ``k``
        best rows inside ``scope`` and the score of any row."""
        dn_rows, _ = self.dense.search(qvec, self.settings.candidate_depth, scope)
        feedback = self._feedback(a, dn_rows)
        return dn_rows, feedback, self.keyword_hits(a, k, scope, feedback, dn_rows)

    def _fuse(
        self, a: Analysis, qvec: np.ndarray, rows: np.ndarray, bm25: KeywordHits, feedback: Feedback
    ) -> Fused:
        keyword = self._keyword_norm(a, bm25.of(rows), feedback)
        dense = self.version.calibration.normalise(self.dense.similarity(qvec, rows)[:, 0])
        return fuse(rows, keyword, dense, self.settings.keyword_weight)

    def _feedback(self, a: Analysis, dense_rows: np.ndarray) -> Feedback:
        """Words of the best dense matches (inside the filters) for the keyword side of hybrid.

        Dense finds a paraphrase's passage when BM25 cannot; its words then let
        BM25 find the other passages that use the same policy term. Dev set
        (nDCG@10, hybrid): 0.750 -> 0.762, paraphrase 0.435 -> 0.508. Over 3 or 5
        passages, 5 or 10 words, weight 0.5 or 1: 0.758-0.766 and 0.508-0.536;
        10 passages bring in off-topic words (0.741-0.750).
        """
        n = self.settings.feedback_passages
        if n == 0 or self.version.feedback is None:
            return {}
        return self.version.feedback.terms(
            dense_rows[:n].tolist(),
            set(a.terms),
            self.settings.feedback_terms,
            self.settings.feedback_weight,
        )

    def _keyword_norm(
        self, a: Analysis, bm25: np.ndarray, feedback: Feedback | None = None
    ) -> np.ndarray:
        top = self.exact.max_score(a.units) + self.keyword.max_score(a.tokens, feedback)
        return (np.clip(bm25 / top, 0, 1) if top > 0 else bm25 * 0).astype(np.float32)

    # ----------------------------------------------------------------- filters
    def mask(self, f: Filters) -> np.ndarray | None:
        """Row mask for the filters, or None when there are none."""
        return self._filter.mask(f)

    def scope(self, f: Filters) -> Scope | None:
        """The scope of the filters (what retrievers take), or None when there are none."""
        return scope_of(self.mask(f), f)

    # ------------------------------------------------------------------ lookup
    def passage(self, passage_id: str, context: int = 0) -> PassageDetail | None:
        return self._results.passage(passage_id, context)

    def document(self, doc_id: str) -> DocumentDetail | None:
        return self._results.document(doc_id)

    def stats(self) -> dict[str, object]:
        """The served version's facts, without server paths (anonymous clients see them)."""
        m = self.version.manifest
        model = dict(m.model)
        name = Path(str(model.get("model", "")))
        if name.is_absolute() or name.exists():  # a local folder: its name, not where it is
            model["model"] = name.name
        return {
            "version": m.version,
            "created": m.created,
            "documents": m.documents,
            "passages": m.passages,
            "model": model,
            "chunking": m.chunking,
            "corpus_folders": [Path(r).name for r in m.corpus_roots],
            "corpus_fingerprint": m.corpus_fingerprint,
            "build_seconds": m.build_seconds,
        }

    def facets(self) -> dict[str, list[dict[str, object]]]:
        """Values of each filterable field with document counts, most frequent first."""
        out: dict[str, list[dict[str, object]]] = {}
        for name in ("year", "region", "speaker", "doc_type"):
            counts: dict[object, int] = {}
            for d in self.documents:
                v = getattr(d, name)
                if v is not None and v != "":
                    counts[v] = counts.get(v, 0) + 1
            out[name] = [
                {"value": v, "count": c}
                for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
            ]
        return out

    def close(self) -> None:
        self.store.close()


def _with_filters(req: SearchRequest, intent: Intent) -> SearchRequest:
    """``req`` searching what is left of its query, inside the filters read from it."""
    if not intent.understood:
        return req
    filters = {**req.filters.model_dump(exclude_none=True), **intent.filters()}
    return req.model_copy(update={"q": intent.query, "filters": BodyFilters(**filters)})


def _remembering(
    of: Callable[[np.ndarray], np.ndarray], rows: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """``of`` with the scores of ``rows`` asked at once and kept: later asks of them cost
    nothing, other rows are asked for then."""
    known = dict(zip(np.asarray(rows).tolist(), of(rows).tolist(), strict=True))

    def scores(asked: np.ndarray) -> np.ndarray:
        wanted = np.asarray(asked, dtype=np.int64)
        missing = np.array([r for r in wanted.tolist() if r not in known], np.int64)
        if len(missing):
            known.update(zip(missing.tolist(), of(missing).tolist(), strict=True))
        return np.array([known[r] for r in wanted.tolist()], np.float32)

    return scores


def _matching(hits: KeywordHits, scope: Scope | None, restricted: bool) -> np.ndarray | None:
    """Every row the keyword side matches inside ``scope`` (all of them when phrases or
    exclusions already chose them); ``None`` when the index cannot say (remote postings)."""
    if restricted and scope is not None:
        return scope.rows()
    if hits.full is None:
        return None
    keep = hits.full > 0
    return np.flatnonzero(keep if scope is None else keep & scope.mask)


def _no_phrase_message(parsed: ParsedQuery, syntax: np.ndarray, mask: np.ndarray | None) -> str:
    """Why quotes or exclusions left nothing, in the words a user typed them."""
    if parsed.phrases and not parsed.excluded:
        quoted = " ".join(f"“{p}”" for p in parsed.phrases)
        where = "" if mask is None or not syntax.any() else " within the filters"
        return f"no passage contains {quoted}{where}: exact phrases only match exactly"
    return "no passage is left after the quoted phrases and -exclusions; remove one of them"


def _within(started: float, budget: float | None) -> None:
    if budget is not None and time.perf_counter() - started > budget:
        raise SearchTimeout(
            f"the search took longer than {budget:g} s; the service is busy or the query costly: "
            "try again, or add filters"
        )
