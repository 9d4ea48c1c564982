"""Matching normalisation on the real reports: traditional, full-width, zero-width text."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer.textnorm import normalize_for_match, normalize_with_offsets

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real corpus not at {CORPUS}")


@pytest.fixture(scope="module")
def reports() -> dict[str, list[str]]:
    """National report paragraphs by year ("" for the NPC resolutions)."""
    out: dict[str, list[str]] = {}
    with open(CORPUS / "national-reports" / "government_work_reports.jsonl", encoding="utf-8") as f:
        for record in map(json.loads, f):
            lines = [line for line in record["content"].splitlines() if line.strip()]
            out.setdefault(record["year"] or "", []).extend(lines)
    return out


def test_traditional_becomes_simplified(reports: dict[str, list[str]]) -> None:
    text = next(p for p in reports["1954"] if "第一個五年計劃" in p)
    normalised = normalize_for_match(text)
    assert "第一个五年计划" in normalised
    assert "社会主义" in normalize_for_match("".join(reports["1954"]))


def test_full_width_digits_become_half_width(reports: dict[str, list[str]]) -> None:
    text = next(p for p in reports["1956"] if "１９５５年国家决算" in p)
    assert "1955年国家决算" in normalize_for_match(text)
    assert normalize_for_match("ＧＤＰ增长５．２％") == "gdp增长5.2%"


def test_ideographic_space_and_zero_width() -> None:
    assert normalize_for_match("\u3000\u3000各位代表") == "  各位代表"
    assert normalize_for_match("政府\u200b工作\ufeff报告\u2060") == "政府工作报告"


def test_idempotent(reports: dict[str, list[str]]) -> None:
    for text in reports["1954"] + reports["1956"]:
        once = normalize_for_match(text)
        assert normalize_for_match(once) == once


def test_offsets_version_gives_same_text(reports: dict[str, list[str]]) -> None:
    for paragraphs in reports.values():
        for text in paragraphs:
            assert normalize_with_offsets(text).text == normalize_for_match(text)


def test_offsets_map_back_to_original_characters(reports: dict[str, list[str]]) -> None:
    for text in reports["1954"] + reports["1956"] + reports["1992"]:
        norm = normalize_with_offsets(text)
        assert norm.original_length == len(text)
        assert list(norm.source) == sorted(norm.source)
        if len(norm.text) == len(text):  # no zero-width or expanding characters
            assert list(norm.source) == list(range(len(text)))
        for i, ch in enumerate(norm.text):
            start, end = norm.to_original(i, i + 1)
            # t2s is phrase-aware (反覆 -> 反复), so compare with a little context
            assert ch in normalize_for_match(text[max(0, start - 2) : end + 2])


def test_offsets_across_expanding_and_deleted_characters() -> None:
    # real snippet from the 1992 report, plus a zero-width space before it
    text = "\u200b银河Ⅱ型计算机、曙光一号"
    norm = normalize_with_offsets(text)
    assert norm.text == "银河ii型计算机、曙光一号"
    i = norm.text.index("计算机")
    assert norm.to_original(i, i + 3) == (text.index("计算机"), text.index("计算机") + 3)
    assert norm.to_original(2, 3) == (3, 4)  # half of "ii" covers the whole "Ⅱ"
    with pytest.raises(ValueError):
        norm.to_original(3, 3)


def test_thread_safe(reports: dict[str, list[str]]) -> None:
    texts = reports["1954"] * 4
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(normalize_for_match, texts))
    assert parallel == [normalize_for_match(t) for t in texts]


def test_folding_looks_up_only_what_changes_and_gives_the_full_lookup() -> None:
    # the fast path must equal str.translate through the whole table, on every BMP
    # character (lone surrogates included) and on characters beyond it
    from indexer.textnorm import _TABLE, _fold

    every = "".join(map(chr, range(0x10000))) + "𠀀𪚥𝐀🙂\U000e0001"
    assert _fold(every) == every.translate(_TABLE)
    assert _fold("ＧＤＰ增长２０２５\u200b年Ⅲ") == "gdp增长2025年iii"
