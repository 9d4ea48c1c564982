"""Export files: a cell a spreadsheet would run as a formula goes out inert."""

from __future__ import annotations

import csv
import io
import json

import pytest

from indexer.research import export

HOSTILE = ["=HYPERLINK(\"http://x\",\"点我\")", "@SUM(1+1)", "+86-10-1234", "--我们要坚持改革",
           "\tTAB", "\rCR"]  # fmt: skip


def _table() -> export.Table:
    return ["title", "region", "passages"], [[value, "浙江省", 3] for value in HOSTILE]


def test_csv_cells_that_would_be_formulas_get_an_apostrophe() -> None:
    text = "".join(export.write(_table(), "csv")).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["title", "region", "passages"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in HOSTILE]
    assert all(r[1] == "浙江省" and r[2] == "3" for r in rows[1:]), "other cells as they were"


@pytest.mark.parametrize("fmt", ["jsonl", "md"])
def test_other_formats_keep_the_text_as_it_is(fmt: export.Format) -> None:
    text = "".join(export.write(_table(), fmt))
    if fmt == "jsonl":
        assert [json.loads(line)["title"] for line in text.splitlines()] == HOSTILE
    else:
        assert "| =HYPERLINK" in text and "'=" not in text
