"""Fixtures for the corpus tests: the real shared corpus beside the checkout, read as is.

Tests read ``../shared/corpus`` (CI has the same copy); they skip, with a
message, on a machine without it rather than fall back to invented text.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from corpus.document import Document, ReadFailure

SHARED_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NATIONAL = SHARED_CORPUS / "national-reports"
PROVINCIAL = SHARED_CORPUS / "provincial-2026"
SCRAPED = SHARED_CORPUS / "scraped-speech"
LAWS = SHARED_CORPUS / "laws"
NATIONAL_JSONL = NATIONAL / "government_work_reports.jsonl"
SCRAPED_TXT = SCRAPED / "000_8759e18efef570e4.txt"


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not NATIONAL_JSONL.is_file():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def national_records(shared_corpus: Path) -> dict[str, dict]:
    """The raw JSONL records by title."""
    with NATIONAL_JSONL.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return {r["title"]: r for r in records}


@pytest.fixture(scope="session")
def provincial_rows(shared_corpus: Path) -> dict[str, dict]:
    """The raw CSV rows by province."""
    rows = {}
    for path in sorted(PROVINCIAL.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                rows[row["province"]] = row
    return rows


@pytest.fixture(scope="session")
def scraped_raw(shared_corpus: Path) -> str:
    return SCRAPED_TXT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def demo_read(shared_corpus: Path) -> list[Document | ReadFailure]:
    """national-reports + provincial-2026 + scraped-speech read once, in order."""
    from corpus import read_corpus

    return list(read_corpus([NATIONAL, PROVINCIAL, SCRAPED]))


@pytest.fixture(scope="session")
def demo_docs(demo_read: list[Document | ReadFailure]) -> list[Document]:
    return [d for d in demo_read if isinstance(d, Document)]
