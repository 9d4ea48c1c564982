"""Field names, date parsing and the metadata we may infer when a source omits it.

Every format maps its own field names onto the same canonical keys
(:data:`FIELD_ALIASES`), so a JSONL record, a CSV row, a Markdown front-matter
block and a ``.meta.json`` sidecar all mean the same thing by ``标题`` or
``publish_date``. The ``infer_*`` helpers only read what the text or title
states (a byline, a year in the title, a province name); none of them guesses.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Canonical key -> accepted source field names, first match wins (English names
#: are compared case-insensitively).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "标题"),
    "text": ("content", "full_text", "text", "body", "正文"),
    "date": ("date", "publish_date", "pub_date", "发布时间", "日期"),
    "year": ("year", "年份"),
    "region": ("region", "province", "地区", "省份"),
    "speaker": ("speaker", "讲话人"),
    "doc_type": ("type", "doc_type", "类型"),
    "url": ("url", "source_url", "链接"),
}

_ALIAS_TO_KEY: dict[str, str] = {
    alias.lower(): key for key, aliases in FIELD_ALIASES.items() for alias in aliases
}
_ALIAS_RANK: dict[str, int] = {
    alias.lower(): rank for aliases in FIELD_ALIASES.values() for rank, alias in enumerate(aliases)
}


def as_text(value: Any) -> str | None:
    """A field value as a stripped string (``None``, empty and blank become ``None``).

    Non-string JSON values (numbers, lists, objects) keep their JSON spelling so
    nothing is lost when they land in ``Document.extra``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        s = value.strip()
    elif isinstance(value, bool | int | float):
        s = str(value)
    else:
        s = json.dumps(value, ensure_ascii=False)
    return s or None


def map_fields(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split a raw record into canonical fields and everything else.

    Returns ``(fields, extra)``: ``fields`` uses the keys of
    :data:`FIELD_ALIASES` with the raw value of the best-ranked alias that has a
    non-empty value; unknown fields (and lower-ranked duplicates) go to
    ``extra`` as strings, so no information in the source is dropped.
    """
    fields: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    extra: dict[str, str] = {}
    for name, value in record.items():
        name_s = str(name).strip().lstrip("\ufeff")
        key = _ALIAS_TO_KEY.get(name_s.lower())
        if key is None or as_text(value) is None:
            s = as_text(value)
            if s is not None:
                extra[name_s] = s
            continue
        rank = _ALIAS_RANK[name_s.lower()]
        if key in fields and ranks[key] <= rank:
            extra[name_s] = as_text(value) or ""
            continue
        if key in fields:  # a better alias displaces the earlier one into extra
            extra[_alias_name(record, key, ranks[key])] = as_text(fields[key]) or ""
        fields[key] = value
        ranks[key] = rank
    return fields, extra


def _alias_name(record: Mapping[str, Any], key: str, rank: int) -> str:
    wanted = FIELD_ALIASES[key][rank].lower()
    return next(str(n).strip() for n in record if str(n).strip().lower() == wanted)


# --------------------------------------------------------------------------- dates

_CN_DIGITS = {
    "〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip

_DATE_RE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:[-/.年]\s*(\d{1,2})(?!\d)\s*(?:[-/.月]\s*(\d{1,2})(?!\d)\s*日?)?)?"
)
_CN_DATE_RE = re.compile(
    r"([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月(?:([一二三四五六七八九十]{1,3})日)?"
)


def _cn_small(s: str) -> int:
    """一..三十一 written with 十 (``二十七`` -> 27)."""
    if "十" not in s:
        return _CN_DIGITS[s]
    tens, _, ones = s.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _iso(year: int, month: int | None, day: int | None) -> str | None:
    if not 1900 <= year <= 2100:
        return None
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return f"{year:04d}-{month:02d}"


def parse_date(value: Any) -> str | None:
    """The first date in ``value`` as ISO ``yyyy-mm-dd`` (or ``yyyy-mm`` / ``yyyy``).

    Accepts what the sources write: ``2026-02-09``, ``2026-02-09 09:45:30``,
    ``2025/7/16 22:26:33``, ``2026年02月10日 07时41分``, ``2024年3月``,
    ``二〇二六年一月二十七日`` and bare years; returns ``None`` when there is no
    plausible date, so a malformed field never becomes a wrong one.
    """
    s = as_text(value)
    if s is None:
        return None
    m = _DATE_RE.search(s)
    if m:
        y, mo, d = m.groups()
        return _iso(int(y), int(mo) if mo else None, int(d) if d else None)
    m = _CN_DATE_RE.search(s)
    if m:
        y = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
        return _iso(y, _cn_small(m.group(2)), _cn_small(m.group(3)) if m.group(3) else None)
    return None


def parse_year(value: Any) -> int | None:
    """A year field (``2019``, ``"2019"``, ``"2019年"``) as an int, else ``None``."""
    s = as_text(value)
    if s is None:
        return None
    m = re.fullmatch(r"\s*(\d{4})\s*年?\s*", s)
    if not m:
        return None
    y = int(m.group(1))
    return y if 1900 <= y <= 2100 else None


# ------------------------------------------------------------------ year from title

_TITLE_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")
_NPC_RE = re.compile(
    r"第([一二三四五六七八九十]{1,3})届全国人民代表大会第([一二三四五六七八九十]{1,3})次会议"
)

#: Year of each session of the early National People's Congresses, which did
#: not meet once a year (e.g. the 2nd NPC met in 1959, 1960, 1962, 1963).
_NPC_EARLY: dict[int, tuple[int, ...]] = {
    1: (1954, 1955, 1956, 1957, 1958),
    2: (1959, 1960, 1962, 1963),
    3: (1964,),
    4: (1975,),
    5: (1978, 1979, 1980, 1981, 1982),
}
#: From the 6th NPC on, session k of the n-th NPC meets in first_year + k - 1.
_NPC_FIRST_YEAR = {
    6: 1983,
    7: 1988,
    8: 1993,
    9: 1998,
    10: 2003,
    11: 2008,
    12: 2013,
    13: 2018,
    14: 2023,
}


def npc_session_year(title: str) -> int | None:
    """Year of a "第N届全国人民代表大会第K次会议" named in ``title``.

    The NPC resolutions on the government work report carry no year field and
    no year in their title, but the term and session number fix the year.
    """
    m = _NPC_RE.search(title)
    if not m:
        return None
    term, session = _cn_small(m.group(1)), _cn_small(m.group(2))
    if term in _NPC_EARLY:
        years = _NPC_EARLY[term]
        return years[session - 1] if 1 <= session <= len(years) else None
    first = _NPC_FIRST_YEAR.get(term)
    return first + session - 1 if first and 1 <= session <= 5 else None


def year_from_title(title: str) -> int | None:
    """A year the title states: ``2019年…政府工作报告`` or an NPC term and session."""
    m = _TITLE_YEAR_RE.search(title)
    if m:
        return int(m.group(1))
    return npc_session_year(title)


# ----------------------------------------------------------------------- doc type

_LAW_TITLE_RE = re.compile(
    r"(?:法|条例|细则|规定|办法|规则|解释|修正案)(?:（[^）]{0,20}）|\([^)]{0,20}\))?$"
)


def infer_doc_type(title: str, *, is_law: bool = False) -> str | None:
    """Default document type from the title (``None`` when it says nothing).

    Order matters: "关于政府工作报告的决议" is a resolution, not a report.
    """
    if "决议" in title:
        return "决议"
    if "政府工作报告" in title:
        return "政府工作报告"
    if any(w in title for w in ("讲话", "致辞", "发言")):
        return "讲话"
    if is_law or _LAW_TITLE_RE.search(title):
        return "法律法规"
    return None


# ------------------------------------------------------------------------- region

PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省",
    "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
    "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
    "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
    "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
)  # fmt: skip
_PROVINCE_RE = re.compile("|".join(map(re.escape, PROVINCES)))
_NATIONAL_RE = re.compile(r"中华人民共和国|国务院|全国人民代表大会")


def infer_region(title: str) -> str | None:
    """Province named in the title, or "全国" for State Council / NPC / national-law titles."""
    m = _PROVINCE_RE.search(title)
    if m:
        return m.group(0)
    if _NATIONAL_RE.search(title):
        return "全国"
    return None


# ------------------------------------------------------------------------ speaker

_OFFICE = (
    r"(?:总理|副总理|省长|副省长|市长|副市长|主席|副主席|书记|副书记|部长|副部长|区长|县长|"
    r"州长|盟长|旗长|主任|厅长|局长|委员长|院长|秘书长)"
)
_NAME = r"[\u4e00-\u9fff][\u4e00-\u9fff·・ \u3000]{0,10}[\u4e00-\u9fff]"
#: "上海市市长 龚 正", "…会议上 陕西省省长 赵刚", "自治区主席 艾尔肯·吐尼亚孜"
_OFFICE_NAME_RE = re.compile(
    rf"(?:^|[ \u3000])[\u4e00-\u9fff]{{0,14}}?{_OFFICE}[ \u3000]*({_NAME})$"
)
#: "——在全市…会议上的讲话 张三" (name after the occasion on the same line)
_BYLINE_NAME_RE = re.compile(rf"^[—―-]{{1,2}}.*上的(?:讲话|致辞|发言|报告)[ \u3000]+({_NAME})$")
#: "——2026年2月3日在…会议上", "（2026年1月27日在…会议上）", "——在…上的讲话"
OCCASION_RE = re.compile(
    r"^[（(]?[—―-]{0,2}\s*(?:[\d〇○一二三四五六七八九十]{2,4}年.{1,10}日\s*)?在.{2,60}?"
    r"(?:[会會][议議]|大[会會]|[会會]|典礼|仪式|论坛|开幕式|座谈[会會])上(?:的(?:讲话|致辞|发言|报告))?[）)]?"
)
_BARE_NAME_RE = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff·・]{1,7}$")
_NOT_NAMES = ("各位代表", "同志们", "女士们", "朋友们", "先生们", "目录", "提纲")


def _name(s: str) -> str | None:
    name = re.sub(r"[ \u3000]", "", s)
    return name if 2 <= len(name) <= 12 and not name.startswith(_NOT_NAMES) else None


def infer_speaker(lines: Iterable[str], limit: int = 12) -> str | None:
    """Speaker named by a byline among the first ``limit`` lines, else ``None``.

    Handles "省长 王某" / "上海市市长 龚 正", a name after "——在…上的讲话", and
    a bare name on the line right after the occasion line ("——2026年2月3日在…
    会议上" then "毛伟明"). It never guesses from the body text.
    """
    prev_is_occasion = False
    for i, raw in enumerate(lines):
        if i >= limit:
            break
        line = raw.strip()
        if not line or len(line) > 90:
            prev_is_occasion = False
            continue
        for rx in (_OFFICE_NAME_RE, _BYLINE_NAME_RE):
            m = rx.search(line)
            if m and (name := _name(m.group(1))):
                return name
        if prev_is_occasion and _BARE_NAME_RE.match(line) and (name := _name(line)):
            return name
        prev_is_occasion = bool(OCCASION_RE.match(line))
    return None


_DATED_PAREN_RE = re.compile(r"[（(]\s*[\d〇○一二三四五六七八九]{4}年[^（）()]{0,60}[）)]")


def infer_speech_date(lines: Iterable[str], limit: int = 12) -> str | None:
    """Date stated by the byline: delivered ("——2026年2月3日在…会议上", "（2024年3月5日）")
    or adopted ("（2023年3月13日第十四届全国人民代表大会第一次会议通过）").
    """
    for i, raw in enumerate(lines):
        if i >= limit:
            break
        line = raw.strip()
        if OCCASION_RE.match(line) or _DATED_PAREN_RE.fullmatch(line):
            d = parse_date(line)
            if d:
                return d
    return None
