"""What a batch of documents says about itself: how many have each field, and what went unused.

Every build ends with this, so a user whose archive names its dates
``publication`` sees "date 6 of 105" and the field to name, instead of
discovering later that year filters and trends miss most of the archive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from corpus.document import Document
from corpus.metadata import date_like

__all__ = ["COVERED", "MetadataCoverage"]

#: The fields filters, trends and citations need, in the order the summary gives them.
COVERED = ("date", "speaker", "doc_type", "region", "url")
_LABEL = {"doc_type": "type"}
#: Keys the readers themselves write into ``Document.extra``: not a source's unused fields.
_OWN_KEYS = frozenset(
    {"speaker_role", "dateline", "dateline_place", "speech_date", "source_org", "author",
     "date_raw", "year_raw", "_extra_cells", "truncated_from"}
)  # fmt: skip
#: Unused fields shown by name; the rest are counted.
_SHOWN = 8


@dataclass(slots=True)
class MetadataCoverage:
    """Per-field counts over a batch, where the values came from, and the fields left unused."""

    documents: int = 0
    #: field -> documents that have it
    found: dict[str, int] = field(default_factory=dict)
    #: field -> where its values came from ("field:publication", "title", ...) -> documents
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    #: a source field the build kept but did not use -> documents carrying it
    unused: dict[str, int] = field(default_factory=dict)
    #: unused fields whose values look like dates -> documents carrying one
    date_like: dict[str, int] = field(default_factory=dict)
    #: ``--field`` names that no document had
    named_missing: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls, docs: Sequence[Document], named: Mapping[str, str] | None = None
    ) -> MetadataCoverage:
        found: Counter[str] = Counter()
        sources: dict[str, Counter[str]] = {k: Counter() for k in COVERED}
        unused: Counter[str] = Counter()
        dates: Counter[str] = Counter()
        for doc in docs:
            for key in COVERED:
                if getattr(doc, key):
                    found[key] += 1
                    sources[key][doc.provenance.get(key, "unknown")] += 1
            for name, value in doc.extra.items():
                if name in _OWN_KEYS:
                    continue
                unused[name] += 1
                if date_like(value, name):
                    dates[name] += 1
        used = {s.split(":", 1)[1].lower() for d in docs for s in d.provenance.values() if ":" in s}
        missing = [
            f"{key}={name}"
            for key, name in (named or {}).items()
            if name.strip().lower() not in used
        ]
        return cls(
            documents=len(docs),
            found={k: found[k] for k in COVERED},
            sources={k: dict(c.most_common()) for k, c in sources.items()},
            unused=dict(unused.most_common()),
            date_like=dict(dates.most_common()),
            named_missing=missing,
        )

    def line(self) -> str:
        """``metadata: date 1,100 of 1,105 · speaker 1,090 · type 1,105 · region 0 · url 1,000``"""
        parts = [f"{_LABEL.get(k, k)} {self.found.get(k, 0):,}" for k in COVERED]
        parts[0] += f" of {self.documents:,}"
        return "metadata: " + " · ".join(parts)

    def notes(self) -> list[str]:
        """What a person should know: fields named but absent, dates left in unused fields."""
        out = [
            f"--field {spec}: no document has a field named {spec.split('=', 1)[1]!r}"
            for spec in self.named_missing
        ]
        out += [
            f"field {name!r} looks like a date in {n:,} documents but is not read as one; "
            f"to use it: --field date={name}"
            for name, n in self.date_like.items()
        ]
        if self.unused:
            shown = list(self.unused.items())[:_SHOWN]
            rest = len(self.unused) - len(shown)
            out.append(
                "fields kept but not used for search: "
                + ", ".join(f"{name} ({n:,})" for name, n in shown)
                + (f" and {rest} more" if rest > 0 else "")
            )
        return out

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
