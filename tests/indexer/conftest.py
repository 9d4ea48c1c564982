"""The national and provincial work reports as keyword-index rows, shared by its tests."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from indexer.keyword import KeywordIndex
from indexer.textnorm import normalize_for_match

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@dataclass(frozen=True)
class Row:
    source: str  # national report year ("1954"; "" for NPC resolutions) or province name
    text: str


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_rows() -> list[Row]:
    rows: list[Row] = []
    with open(CORPUS / "national-reports" / "government_work_reports.jsonl", encoding="utf-8") as f:
        for record in map(json.loads, f):
            rows += [Row(record["year"] or "", line) for line in _lines(record["content"])]
    for path in sorted((CORPUS / "provincial-2026").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for record in csv.DictReader(f):
                rows += [Row(record["province"], line) for line in _lines(record["full_text"])]
    return rows


@pytest.fixture(scope="session")
def rows() -> list[Row]:
    return load_rows()


@pytest.fixture(scope="session")
def index(rows: list[Row]) -> KeywordIndex:
    return KeywordIndex.build([r.text for r in rows])


def containing(rows: list[Row], phrase: str) -> np.ndarray:
    """Rows whose normalised text contains ``phrase``: ground truth independent of tokenising."""
    return np.array([phrase in normalize_for_match(r.text) for r in rows])
