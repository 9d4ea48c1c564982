"""The ``govspeech`` command: index, search, serve, eval.

Each command turns options into :class:`~indexer.settings.Settings` and calls
one stage; nothing here knows how indexing or ranking works.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from pydantic import BaseModel

    from indexer.embed import Embedder
    from indexer.schemas import SearchResponse
    from indexer.search import Searcher
    from indexer.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

app = typer.Typer(
    help="Search Chinese government speeches and reports by paragraph.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags without a value column
)
#: Messages, progress and logs share this one stderr console, so bars and lines never collide.
console = Console(stderr=True, soft_wrap=True)
_log = logging.getLogger("govspeech.cli")
out = Console(highlight=False, soft_wrap=True)
_verbose = False

IndexDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--index-dir", help="Index directory (default: $GOVSPEECH_INDEX_DIR or var/index)."
    ),
]


YearOpt = Annotated[int | None, typer.Option(help="Only this year.")]
YearFromOpt = Annotated[int | None, typer.Option(help="From this year on.")]
YearToOpt = Annotated[int | None, typer.Option(help="Up to this year.")]
RegionOpt = Annotated[str | None, typer.Option(help="Region/province (prefix).")]
SpeakerOpt = Annotated[str | None, typer.Option(help="Speaker (substring).")]
DocTypeOpt = Annotated[str | None, typer.Option(help="Document type.")]
SourceOpt = Annotated[str | None, typer.Option(help="Source path/URL prefix.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="Write csv, jsonl or md (a table) to stdout.")
]


def _settings(index_dir: Path | None) -> Settings:
    """The settings, a bad ``GOVSPEECH_*`` value said in one line (never a traceback)."""
    from pydantic import ValidationError

    from indexer.settings import get_settings  # pydantic-settings: 0.16 s that --help skips

    try:
        settings = get_settings()
    except ValidationError as e:
        raise _fail(
            "; ".join(
                f"GOVSPEECH_{'_'.join(map(str, x['loc'])).upper()}: "
                + str(x["msg"]).removeprefix("Value error, ")
                for x in e.errors()
            )
        ) from None
    return settings.model_copy(update={"index_dir": index_dir}) if index_dir else settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=code)


@contextlib.contextmanager
def _user_errors(settings: Settings) -> Iterator[None]:
    """Turn what a user can fix (bad path, no index, wrong model, busy lock) into one line."""
    from indexer.errors import UserError
    from indexer.live import IndexUnavailable
    from indexer.versions import IndexDir, IndexLocked, IndexNotFound

    try:
        yield
    except IndexUnavailable as e:
        if IndexDir(settings.index_dir).current_name() is not None:
            raise _fail(str(e)) from None
        raise _no_index(settings) from None
    except IndexNotFound:
        raise _no_index(settings) from None
    except UserError as e:
        raise _fail(str(e)) from None
    except IndexLocked as e:
        raise _fail(f"{e}; wait for it to finish", code=75) from None
    except PermissionError as e:
        raise _fail(f"permission denied: {e.filename}; check who owns it", code=77) from None
    except OSError as e:
        raise _fail(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "), code=74) from None


def _no_index(settings: Settings) -> typer.Exit:
    where = settings.index_dir
    return _fail(
        f"no index in {where}"
        + ("" if where.is_absolute() else f" (relative to this folder: {where.resolve()})")
        + ": build one with `govspeech index PATH...`, or point --index-dir at one"
    )


def _log_to_console(detail: bool) -> None:
    """One handler on the shared console; ours at INFO when ``detail``, libraries at WARNING.

    Preparing the model on first use is always said, since it is the one slow
    step a user did not ask for.
    """
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    if console.is_terminal:
        handler: logging.Handler = RichHandler(
            console=console, show_time=False, show_path=False, markup=False
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.INFO if detail or _verbose else logging.WARNING
    for ours in ("corpus", "indexer", "api", "govspeech"):
        logging.getLogger(ours).setLevel(level)
    logging.getLogger("indexer.embed").setLevel(logging.INFO)


def _load_model(settings: Settings) -> Embedder:
    """The embedding model, saying so when its one-time preparation is about to run."""
    from indexer.embed import load_embedder, pending_setup

    todo = pending_setup(settings)
    if todo is None:
        return load_embedder(settings)
    message = f"{todo} (once, about a minute)"
    if not console.is_terminal:
        _log.warning("%s ...", message)
        return load_embedder(settings)
    with console.status(message + " ..."):
        embedder = load_embedder(settings)
    console.print(f"[green]done:[/] {todo}")
    return embedder


def sample_corpus() -> Path:
    """The small corpus the project ships for the quickstart."""
    import corpus

    return Path(corpus.__file__).parent / "sample"


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        return Text(f"{speed:,.1f} {unit}/s" if speed else f"– {unit}/s", style="cyan")


class RichProgress:
    """Renders the builder's stages as progress bars with rate and ETA."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: int | None = None

    def stage(self, name: str, total: int | None, unit: str) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            if task.total is None:
                self._progress.update(
                    self._task, total=task.completed or 1, completed=task.completed or 1
                )
        self._task = self._progress.add_task(name, total=total, unit=unit)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


class LogProgress:
    """The builder's progress as log lines, for runs without a terminal (CI, nohup, docker).

    A bar redrawn in place means nothing in a log file; a line per stage and
    one every ``every`` seconds with count, rate and time left does.
    """

    def __init__(self, every: float = 15.0) -> None:
        self._every = every
        self._name, self._unit, self._total = "", "", None
        self._done, self._started, self._last = 0, 0.0, 0.0

    def stage(self, name: str, total: int | None, unit: str) -> None:
        self._name, self._unit, self._total, self._done = name, unit, total, 0
        self._started = self._last = time.monotonic()
        if total:
            _log.info("%s: %s %s to do", name, f"{total:,}", unit)
        else:  # a step without a count still says what the build is doing
            _log.info("%s ...", name)

    def advance(self, n: int = 1) -> None:
        self._done += n
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        rate = self._done / max(now - self._started, 1e-9)
        left = ""
        if self._total and rate > 0:
            left = f", about {_duration((self._total - self._done) / rate)} left"
        total = f"/{self._total:,}" if self._total else ""
        _log.info(
            "%s: %s%s %s (%.1f %s/s%s)",
            self._name,
            f"{self._done:,}",
            total,
            self._unit,
            rate,
            self._unit,
            left,
        )


def _with_fields(settings: Settings, specs: list[str]) -> Settings:
    """Settings whose source field names are ``settings.fields`` with ``--field K=NAME`` on top."""
    from pydantic import ValidationError

    named = dict(settings.fields)
    for spec in specs:
        key, sep, name = spec.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise _fail(f"--field takes FIELD=NAME (e.g. date=publication), not {spec!r}")
        named[key.strip()] = name.strip()
    try:
        return type(settings).model_validate({**settings.model_dump(), "fields": named})
    except ValidationError as e:
        raise _fail(e.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


@app.command()
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders to add (default: the index's own corpus folders, or the "
            "bundled sample corpus for a new index)."
        ),
    ] = None,
    index_dir: IndexDirOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild everything, re-embed all.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Index only PATHS; drop the other corpus folders.")
    ] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Serve the previous version again and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as JSON.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Embed on a Ray cluster: local, auto (the cluster of this node) or "
            "ray://host:10001 (default GOVSPEECH_RAY_ADDRESS; needs govspeech[ray]).",
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="FIELD=NAME",
            help="Read a document field from the source's field NAME, before the built-in "
            "names (repeatable): --field date=publication --field speaker=author. Fields: "
            "title, text, date, year, region, speaker, doc_type, url (default GOVSPEECH_FIELDS).",
        ),
    ] = None,
) -> None:
    """Build or update the index (incremental unless --full).

    The index remembers its corpus folders: PATHS are added to them, and a
    re-run with no PATHS updates them all; --replace makes PATHS the whole corpus.
    """
    from indexer.build import build_index, rollback_index
    from indexer.versions import IndexDir

    settings = _settings(index_dir)
    if ray is not None:
        settings = settings.model_copy(update={"ray_address": ray})
    if field:
        settings = _with_fields(settings, field)
    _log_to_console(detail=not console.is_terminal or as_json)
    if rollback:
        with _user_errors(settings):
            name = rollback_index(settings)
        console.print(f"now serving version [bold]{name}[/]")
        return
    missing = [p for p in paths or [] if not p.exists()]
    if missing:
        raise _fail(f"no such file or folder: {', '.join(map(str, missing))}")
    if not paths and IndexDir(settings.index_dir).current_name() is None:
        paths = [sample_corpus()]
    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        _Rate(),
        TextColumn("eta"),
        TimeRemainingColumn(compact=True),
    )
    with _user_errors(settings):
        embedder = _load_model(settings)
        if console.is_terminal and not as_json:
            with Progress(*columns, console=console, transient=True) as bar:
                report = build_index(
                    paths,
                    settings,
                    full=full,
                    replace=replace,
                    progress=RichProgress(bar),
                    embedder=embedder,
                )
        else:
            report = build_index(
                paths,
                settings,
                full=full,
                replace=replace,
                progress=LogProgress(),
                embedder=embedder,
            )
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    where = settings.index_dir
    if report.no_change:
        console.print(
            f"[bold green]nothing changed[/] in {len(report.roots)} corpus path(s); still serving "
            f"version {report.version} from {where} ({report.documents} documents, "
            f"{report.passages} passages; checked in {report.seconds:.1f} s)"
        )
    else:
        console.print(
            f"[bold green]index version {report.version}[/] in {where} "
            f"({'full build: ' + report.full_reason if report.full else 'incremental'})\n"
            f"documents: {report.documents} ({report.added} added, {report.changed} changed, "
            f"{report.deleted} removed, {report.unchanged} unchanged, {len(report.failed)} skipped)\n"
            f"passages: {report.passages} ({report.embedded} embedded, {report.reused} reused) "
            f"in {report.seconds:.1f} s, {report.passages_per_second:.0f} passages/s\n"
            f"windows: {report.windows:,}"
            + (
                f" ({report.vectors_embedded:,} embedded in {report.embed_seconds:.0f} s, "
                f"{report.windows_per_second:.1f} windows/s)"
                if report.vectors_embedded
                else ""
            ),
            highlight=False,
        )
    if report.passages:
        console.print(
            f"on disk: version {_size(report.version_bytes)} "
            f"({report.version_bytes / report.passages:,.0f} B per passage), embedding cache "
            f"{_size(report.cache_bytes)}",
            highlight=False,
        )
    for line in report.metadata_lines():
        console.print(line, highlight=False)
    for removed in report.removed[:10]:
        console.print(f"[yellow]removed[/] {removed}", highlight=False)
    if len(report.removed) > 10:
        console.print(f"[yellow]removed[/] … and {len(report.removed) - 10} more documents")
    for line in report.skipped():
        console.print(f"[yellow]skipped[/] {line}", highlight=False)
    console.print(f"[dim]corpus: {', '.join(report.roots)}[/]", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Keywords, a question or a paraphrase.")],
    k: Annotated[int, typer.Option("-k", "--k", help="Number of hits.")] = 10,
    offset: Annotated[int, typer.Option(help="Hits to skip (paging).")] = 0,
    mode: Annotated[str, typer.Option(help="hybrid, dense or keyword.")] = "hybrid",
    year: YearOpt = None,
    year_from: YearFromOpt = None,
    year_to: YearToOpt = None,
    region: RegionOpt = None,
    speaker: SpeakerOpt = None,
    doc_type: DocTypeOpt = None,
    source: SourceOpt = None,
    min_score: Annotated[float | None, typer.Option(help="Drop hits below this score.")] = None,
    context: Annotated[int, typer.Option(help="Neighbouring passages to show per side.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
    literal: Annotated[
        bool,
        typer.Option(
            "--literal",
            help="Search every word as typed: do not read years, regions, speakers or "
            "document types in the query as filters.",
        ),
    ] = False,
    fmt: FormatOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Search the index and print ranked passages. "a phrase" must occur; -word excludes.

    Years, regions, speakers and document types typed as words of their own
    ("2019年 浙江 数字经济") are read as filters; --literal turns that off.
    """
    from indexer.schemas import SearchParams

    settings = _settings(index_dir)
    _log_to_console(detail=False)
    req = _params(
        SearchParams,
        q=query, k=k, offset=offset, mode=mode, min_score=min_score, context=context,
        year=year, year_from=year_from, year_to=year_to, region=region, speaker=speaker,
        doc_type=doc_type, source=source, parse=not literal,
    ).to_request()  # fmt: skip
    result = _searching(settings, lambda s: s.search(req))
    if fmt is not None:
        _export("search", result, fmt)
        return
    if as_json:
        out.print_json(json.dumps([h.model_dump() for h in result.hits], ensure_ascii=False))
        return
    if result.understood:
        read = ", ".join(
            f"{u.field} {u.value}" + (" (ranked higher, not a filter)" if u.boost else "")
            for u in result.understood
        )
        console.print(
            f"[dim]understood: {read}; searched: {result.searched} (--literal to search "
            "every word)[/]",
            highlight=False,
        )
    if result.message:
        console.print(f"[yellow]{result.message}[/]")
    for hit in result.hits:
        d = hit.document
        meta = " · ".join(str(x) for x in (d.date or d.year, d.region, d.speaker) if x)
        _show(
            Text.assemble(
                (f"{hit.rank}. {hit.score:.3f}", "bold"), "  ", (d.title, "cyan"), "  ", meta
            ),
            0,
        )
        if hit.section:
            _show(Text(hit.section, style="dim"))
        for c in hit.before:
            _show(Text(f"…{c.text}", style="dim"))  # no space: rich would break there
        _show(_terminal_marks(hit.text, hit.spans))
        for c in hit.after:
            _show(Text(f"…{c.text}", style="dim"))
        if hit.duplicates:
            _show(Text(f"(+{len(hit.duplicates)} near-identical passages elsewhere)", style="dim"))
    if result.feedback_terms:
        console.print(f"[dim]also searched for: {' '.join(result.feedback_terms)}[/]")
    console.print(
        f"[dim]hits {result.offset + 1}–{result.offset + len(result.hits)} of "
        f"{_count(result)} · {result.mode} · "
        f"version {result.version} · {result.took_ms:.0f} ms[/]"
    )


def _count(result: SearchResponse) -> str:
    """``503 (the best 200 ranked)``, ``more than 200``, or the plain total."""
    if not result.total_capped:
        return f"{result.total:,}"
    if result.total > result.ranked:
        return f"{result.total:,} (the best {result.ranked:,} ranked)"
    return f"more than {result.total:,}"


def _params(model: type[T], **fields: object) -> T:
    """Options checked by the same model the API uses; a bad value is one line."""
    from pydantic import ValidationError

    try:
        return model(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise _fail(
            "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        ) from None


def _searching(settings: Settings, ask: Callable[[Searcher], R]) -> R:
    """``ask`` the current version's searcher, reading only what it needs."""
    from indexer.live import LiveIndex

    with _user_errors(settings):
        return ask(LiveIndex(settings, lazy=True).get())


def _written(kind: str, response: BaseModel, fmt: str | None, as_json: bool) -> bool:
    """Write ``response`` as a table (``--format``) or JSON when asked; False when neither."""
    if fmt is not None:
        _export(kind, response, fmt)
    elif as_json:
        out.print_json(response.model_dump_json())
    return fmt is not None or as_json


def _export(kind: str, response: object, fmt: str) -> None:
    from indexer.research import export

    if fmt not in export.FORMATS:
        raise _fail(f"--format: choose one of {', '.join(export.FORMATS)}")
    table = export.TABLES[kind](response)  # type: ignore[operator]
    for piece in export.write(table, fmt):  # type: ignore[arg-type]
        sys.stdout.write(piece)


@app.command()
def origin(
    text: Annotated[
        str | None,
        typer.Argument(help="A phrase, a sentence or paragraphs; - reads standard input."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the text from this file.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Documents to list, at most.")] = 50,
    year_from: YearFromOpt = None,
    year_to: YearToOpt = None,
    region: RegionOpt = None,
    speaker: SpeakerOpt = None,
    doc_type: DocTypeOpt = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Where TEXT comes from: the documents that say it, earliest first.

    Each is an exact match (once script, width and punctuation are folded), a near one
    (small edits) or reworded (the same meaning); a pasted paragraph is traced sentence by
    sentence, and the sentences no document says are marked new.
    """
    from indexer.research.origin import origin as trace
    from indexer.research.schemas import OriginParams

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise _fail(f"cannot read {file}: {e}") from None
    elif text in (None, "-"):
        text = sys.stdin.read()
    settings = _settings(index_dir)
    params = _params(
        OriginParams,
        text=text, limit=limit, year_from=year_from, year_to=year_to, region=region,
        speaker=speaker, doc_type=doc_type, source=source,
    )  # fmt: skip
    result = _searching(settings, lambda s: trace(s, params))
    if _written("origin", result, fmt, as_json):
        return
    if result.message:
        console.print(f"[yellow]{result.message}[/]")
    out.print(result.summary)
    for doc in [*result.documents, *result.undated]:
        d = doc.document
        when = d.date or (str(d.year) if d.year else "no date")
        _show(
            Text.assemble(
                (when, "bold"), "  ", (d.title, "cyan"), "  ",
                (f"{doc.match} {doc.similarity:.2f}", "green" if doc.match == "exact" else "yellow"),
                (f"  {d.speaker}" if d.speaker else ""),
            ),
            0,
        )  # fmt: skip
        _show(_terminal_marks(doc.hit.text, doc.hit.spans))
    if len(result.sentences) > 1:
        out.print()
        for sentence in result.sentences:
            first = sentence.first
            said = (
                f"first {first.date or first.year} 《{first.title}》, {sentence.match}"
                if first is not None
                else ("undated only" if sentence.documents else "new")
            )
            out.print(f"{sentence.index + 1}. [{said}] {sentence.text}")
    console.print(f"[dim]version {result.version} · {result.took_ms:.0f} ms[/]")


@app.command()
def trends(
    query: Annotated[str, typer.Argument(help='Words or "phrases"; each must occur exactly.')],
    by: Annotated[str, typer.Option(help="year, region or doc_type.")] = "year",
    min_score: Annotated[
        float, typer.Option(help="Hybrid score a passage needs to count as scored.")
    ] = 0.3,
    year_from: YearFromOpt = None,
    year_to: YearToOpt = None,
    region: RegionOpt = None,
    speaker: SpeakerOpt = None,
    doc_type: DocTypeOpt = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """How much the archive says about QUERY per year (region, type), relative to its text."""
    from indexer.research.schemas import TrendParams
    from indexer.research.trends import trends as count

    settings = _settings(index_dir)
    params = _params(
        TrendParams,
        q=query, by=by, min_score=min_score, year_from=year_from, year_to=year_to,
        region=region, speaker=speaker, doc_type=doc_type, source=source,
    )  # fmt: skip
    result = _searching(settings, lambda s: count(s, params))
    if _written("trend", result, fmt, as_json):
        return
    if result.message:
        console.print(f"[yellow]{result.message}[/]")
    out.print(f"{by:<12} {'docs':>5} {'passages':>8} {'per 100k':>9} {'scored':>6}")
    for g in result.groups:
        if g.missing:
            out.print(f"{g.key!s:<12} {'—':>5} {'—':>8} {'—':>9} {'—':>6}  (no document)")
            continue
        bar = "█" * min(40, round((g.per_100k_chars or 0) / 2))
        out.print(
            f"{g.key!s:<12} {g.documents:>5} {g.passages:>8} {g.per_100k_chars or 0:>9.2f} "
            f"{g.scored:>6}  {bar}"
        )
    if (u := result.unrecorded) is not None:
        what = {"year": "no date", "region": "no region", "doc_type": "no type"}[by]
        out.print(
            f"{what}: {u.documents_total} documents, apart from the {by}s above "
            f"({u.passages} passages contain it, {u.scored} scored)"
        )
    console.print(
        f"[dim]{result.passages} passages in {result.documents} documents contain "
        f"{' and '.join(result.terms)}; {result.scored} score ≥ {result.min_score} in hybrid"
        f"{' (the ranking stopped at its limit)' if result.scored_capped else ''} · "
        f"{result.took_ms:.0f} ms[/]"
    )


@app.command()
def compare(
    query: Annotated[str, typer.Argument(help="Keywords, a phrase or a question.")],
    by: Annotated[str, typer.Option(help="region, document or year.")] = "region",
    year: YearOpt = None,
    year_from: YearFromOpt = None,
    year_to: YearToOpt = None,
    region: RegionOpt = None,
    speaker: SpeakerOpt = None,
    doc_type: DocTypeOpt = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """The best passage of each region (document, year) for QUERY, side by side."""
    from indexer.research.compare import compare as best_of
    from indexer.research.schemas import CompareParams

    settings = _settings(index_dir)
    params = _params(
        CompareParams,
        q=query, by=by, year=year, year_from=year_from, year_to=year_to, region=region,
        speaker=speaker, doc_type=doc_type, source=source,
    )  # fmt: skip
    result = _searching(settings, lambda s: best_of(s, params))
    if _written("compare", result, fmt, as_json):
        return
    if result.message:
        console.print(f"[yellow]{result.message}[/]")
    for row in [*result.rows, *([result.unrecorded] if result.unrecorded else [])]:
        if row.hit is None:
            _show(Text.assemble((row.label, "bold"), ("  says nothing about it", "dim")), 0)
            continue
        _show(
            Text.assemble(
                (row.label, "bold"), f"  {row.hit.score:.3f}  ", (row.hit.section, "dim")
            ),
            0,
        )
        _show(_terminal_marks(row.hit.text, row.hit.spans))


@app.command()
def similar(
    passage_id: Annotated[str, typer.Argument(help="A passage id (from search --json).")],
    k: Annotated[int, typer.Option("-k", "--k", help="Number of passages.")] = 10,
    same_document: Annotated[
        bool, typer.Option("--same-document", help="Include the passage's own document.")
    ] = False,
    fmt: FormatOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Passages of other documents that quote, echo or paraphrase PASSAGE_ID."""
    from indexer.research.similar import similar as like

    settings = _settings(index_dir)
    result = _searching(settings, lambda s: like(s, passage_id, k, same_document=same_document))
    if result is None:
        raise _fail(f"no passage with id {passage_id!r} in this index")
    if fmt is not None:
        from indexer.schemas import SearchResponse

        page = SearchResponse(
            query=passage_id, mode="dense", terms=[], filters={}, offset=0, k=k,
            total=len(result.hits), hits=result.hits, version=result.version,
            took_ms=result.took_ms,
        )  # fmt: skip
        _export("search", page, fmt)
        return
    for hit in result.hits:
        d = hit.document
        _show(Text.assemble((f"{hit.rank}. {hit.score:.3f}", "bold"), "  ", (d.title, "cyan")), 0)
        _show(Text(hit.text))


def _show(text: Text, indent: int = 3) -> None:
    """One line of a hit: on a terminal wrapped under its indent, piped left whole.

    Passage text goes in as ``Text``, never as markup: a ``[`` in a report is text.
    """
    if out.is_terminal:
        out.print(Padding(text, (0, 0, 0, indent)), soft_wrap=False)
    else:
        out.print(Text(" " * indent) + text)


def _terminal_marks(text: str, spans: list[tuple[int, int]]) -> Text:
    t = Text(text)
    for start, end in spans:
        t.stylize("bold yellow", start, end)
    return t


@app.command("eval")
def eval_(
    file: Annotated[
        Path, typer.Argument(help="Eval set (JSONL: id, query, kind, filters, relevant).")
    ],
    mode: Annotated[
        str | None, typer.Option(help="Evaluate one mode only (hybrid, dense, keyword).")
    ] = None,
    results: Annotated[
        Path | None, typer.Option(help="Write ranked passages per query (score.py format).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
    index_dir: IndexDirOpt = None,
) -> None:
    """Score the searcher on an eval set: nDCG@10, Recall@10, MRR@10 per mode and kind."""
    from rich.table import Table

    from indexer.evaluate import EvalSetError, evaluate_modes, load_queries, write_results
    from indexer.live import LiveIndex

    settings = _settings(index_dir)
    _log_to_console(detail=False)
    modes = [mode] if mode else ["hybrid", "keyword", "dense"]
    if results and len(modes) != 1:
        raise _fail("--results needs --mode: one results file holds one mode's rankings")
    if any(m not in ("hybrid", "dense", "keyword") for m in modes):
        raise _fail(f"unknown mode {mode!r}: use hybrid, dense or keyword")
    if not file.is_file():
        raise _fail(f"no such eval set: {file} (a JSONL file: id, query, kind, filters, relevant)")
    try:
        queries = load_queries(file)
    except EvalSetError as e:
        raise _fail(str(e)) from None
    with _user_errors(settings):
        searcher = LiveIndex(settings).get()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("evaluating", total=len(queries) * len(modes))
            scores, raw = evaluate_modes(
                searcher, queries, modes, progress=lambda: bar.advance(task)
            )
    if results:
        write_results(results, raw[modes[0]])
    if as_json:
        out.print_json(json.dumps(scores, ensure_ascii=False))
        return
    table = Table(title=f"{file.name}: {len(queries)} queries, index {searcher.version.name}")
    table.add_column("mode")
    table.add_column("kind")
    for metric in ("nDCG@10", "Recall@10", "MRR@10", "n"):
        table.add_column(metric, justify="right")
    for m, per_kind in scores.items():
        for kind, values in per_kind.items():
            table.add_row(
                m,
                kind,
                *(f"{values[x]:.3f}" for x in ("nDCG@10", "Recall@10", "MRR@10")),
                str(values["n"]),
            )
    out.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    index_dir: IndexDirOpt = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Service processes (default GOVSPEECH_WORKERS, 2).")
    ] = None,
) -> None:
    """Start the HTTP API (and search page); picks up new index versions live.

    The model and the index are loaded and warmed before the service says it
    is ready, so the first query is as fast as the tenth.
    """
    import uvicorn

    from api.main import create_app, server_options

    settings = _settings(index_dir)
    settings = settings.model_copy(
        update={
            "host": host or settings.host,
            "port": port or settings.port,
            "workers": workers or settings.workers,
        }
    )
    _log_to_console(detail=True)
    try:
        with socket.create_server((settings.host, settings.port)):
            pass
    except OSError as e:
        raise _fail(
            f"cannot listen on {settings.host}:{settings.port} ({e.strerror}); "
            "is another govspeech running? choose another port with --port",
            code=69,
        ) from None
    if settings.workers > 1 and _on_milvus_lite(settings):
        _log.warning(
            "Milvus Lite opens its file from one process only: serving with one worker "
            "(run `milvus-lite server` or a Milvus server and set GOVSPEECH_MILVUS_URI for more)"
        )
        settings = settings.model_copy(update={"workers": 1})
    with _user_errors(settings):
        _load_model(settings)  # prepares it once here, so workers never race to convert it
    console.print(
        f"starting on http://{settings.host}:{settings.port} (index {settings.index_dir}, "
        f"{settings.workers} process{'es' if settings.workers > 1 else ''}); "
        "it says ready once the model and the index are warm"
    )
    log_level = "info" if _verbose else "warning"
    _tame_malloc()
    if settings.workers == 1:
        uvicorn.run(create_app(settings), log_level=log_level, **server_options(settings))
        return
    # each worker process builds its app from the environment: pass on what options set
    os.environ["GOVSPEECH_INDEX_DIR"] = str(settings.index_dir.resolve())
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        workers=settings.workers,
        log_level=log_level,
        **server_options(settings),
    )


#: glibc malloc settings for the service's processes (a value the user set wins).
MALLOC_SETTINGS = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(4 << 20)}
_MALLOPT = {"MALLOC_ARENA_MAX": -8, "MALLOC_MMAP_THRESHOLD_": -3}  # M_ARENA_MAX, M_MMAP_THRESHOLD


def _tame_malloc() -> None:
    """Keep the service's memory flat across index swaps (bench/soak.py).

    By default glibc gives each request thread an arena of its own, and after a large
    block is freed it raises its mmap threshold, so the next version's arrays land inside
    the heap and stay there once freed. In a 4-minute soak (8 clients, 2 swaps) the two
    workers grew by 16 %; with 2 arenas by 10 %; with 2 arenas and a fixed mmap threshold by
    4 %. The threshold is 4 MB: a version's arrays (tens of MB) are mapped and unmapped with
    it, while a query's own (a hybrid query gathers ~1.2 MB of window vectors) stay in the
    heap: at 1 MB every such query paid a mapping, ~10 % of throughput. Worker processes
    read the variables when they start; this process is told through ``mallopt``.
    """
    libc = None
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL("libc.so.6")
    for name, value in MALLOC_SETTINGS.items():
        os.environ.setdefault(name, value)
        if libc is not None:
            with contextlib.suppress(AttributeError, ValueError):  # not glibc: nothing to set
                libc.mallopt(_MALLOPT[name], int(os.environ[name]))


def _on_milvus_lite(settings: Settings) -> bool:
    """Whether the served version's vectors are in a Milvus Lite file (not a server)."""
    from indexer.dense import connection
    from indexer.versions import IndexDir

    manifest = IndexDir(settings.index_dir).current_manifest()
    uri = connection(settings).uri
    on_milvus = settings.catalog == "milvus" or (
        manifest is not None and manifest.dense.get("backend") == "milvus"
    )
    return on_milvus and "://" not in uri


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Say what each step does; show warnings.")
    ] = False,
) -> None:
    global _verbose
    _verbose = verbose
    if not verbose:
        warnings.simplefilter("ignore")  # libraries' advice to their own developers


def main() -> None:
    # Quiet Hugging Face libraries before anything imports them (only the torch path does).
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()
