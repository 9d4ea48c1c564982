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

from corpus.speakers import OCCASION_RE

#: Canonical key -> accepted source field names, first match wins (English names
#: are compared case-insensitively). The names are the ones real archives use:
#: scraper records (``publication``, ``pubtime``, ``created_at``), CMS page meta
#: tags (``ArticleTitle``, ``PubDate``, ``Url``, ``og:url``, ``DC.date``), Chinese
#: column headers. A user names others with ``--field date=发文时间``.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "标题", "题名", "articletitle", "headline", "og:title", "dc.title"),
    "text": ("content", "full_text", "text", "body", "正文", "内容", "article", "article_text"),
    "date": (
        "date", "publish_date", "pub_date", "pubdate", "publication", "publication_date",
        "published", "published_at", "publish_time", "pubtime", "pub_time", "release_date",
        "release_time", "created_at", "created", "datetime", "time", "发布时间", "发布日期",
        "日期", "时间", "成文日期", "article:published_time", "og:article:published_time",
        "dc.date", "dc.date.issued", "dcterms.issued", "firstpublishedtime",
    ),
    "year": ("year", "年份", "年度"),
    "region": ("region", "province", "地区", "省份"),
    "speaker": ("speaker", "讲话人", "发言人", "主讲人"),
    "doc_type": ("type", "doc_type", "类型", "文种", "体裁"),
    "url": ("url", "source_url", "链接", "网址", "原文链接", "link", "og:url", "canonical"),
}  # fmt: skip

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


def map_fields(
    record: Mapping[str, Any], named: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Split a raw record into canonical fields and everything else.

    Returns ``(fields, extra, names)``: ``fields`` uses the keys of
    :data:`FIELD_ALIASES` with the raw value of the best-ranked alias that has a
    non-empty value; unknown fields (and lower-ranked duplicates) go to
    ``extra`` as strings, so no information in the source is dropped;
    ``names`` says which source field each canonical one came from.
    ``named`` (canonical key -> the source's field name, from ``--field``)
    ranks above every built-in alias.
    """
    user = {str(v).strip().lower(): k for k, v in (named or {}).items()}
    fields: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    names: dict[str, str] = {}
    extra: dict[str, str] = {}
    for name, value in record.items():
        name_s = str(name).strip().lstrip("\ufeff")
        low = name_s.lower()
        key = user.get(low) or _ALIAS_TO_KEY.get(low)
        s = as_text(value)
        if key is None or s is None:
            if s is not None:
                extra[name_s] = s
            continue
        rank = -1 if low in user else _ALIAS_RANK[low]
        if key in fields and ranks[key] <= rank:
            extra[name_s] = s
            continue
        if key in fields:  # a better alias displaces the earlier one into extra
            extra[names[key]] = as_text(fields[key]) or ""
        fields[key], ranks[key], names[key] = value, rank, name_s
    return fields, extra, names


def is_field_name(name: str) -> bool:
    """Whether ``name`` is a built-in source name of any canonical field."""
    return name.strip().lower() in _ALIAS_TO_KEY


def is_alias(name: str, key: str) -> bool:
    """Whether ``name`` is one of the built-in source names of canonical ``key``."""
    return _ALIAS_TO_KEY.get(name.strip().lower()) == key


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


#: Records date scraped pages in China's time: an epoch stamp becomes a date there.
_CHINA_TZ = _dt.timezone(_dt.timedelta(hours=8))
_EPOCH_RE = re.compile(r"\d{9,10}(?:\.\d+)?|\d{12,13}")
_COMPACT_RE = re.compile(r"((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")
#: A value that is a date and nothing else: what ``date_like`` recognises.
_WHOLE_DATE_RE = re.compile(
    r"(?:\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|[〇○零一二三四五六七八九]{4}年"
    r"[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日|(?:19|20)\d{6})"
    r"(?:[T\s]*\d{1,2}\s*[:时]\s*\d{1,2}(?:\s*[:分]\s*\d{1,2}(?:\.\d+)?\s*秒?)?\s*分?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT|CST)?"
)


def _from_epoch(s: str) -> str | None:
    """An epoch stamp in seconds (10 digits) or milliseconds (13) as a date in China's time."""
    seconds = float(s) / (1000 if len(s.split(".")[0]) >= 12 else 1)
    try:
        day = _dt.datetime.fromtimestamp(seconds, _CHINA_TZ).date()
    except (OverflowError, OSError, ValueError):
        return None
    return _iso(day.year, day.month, day.day)


def parse_date(value: Any) -> str | None:
    """The first date in ``value`` as ISO ``yyyy-mm-dd`` (or ``yyyy-mm`` / ``yyyy``).

    Accepts what the sources write: ``2026-02-09``, ``2026-02-09 09:45:30``,
    ``2025-12-31T19:35:10+08:00``, ``2025/7/16 22:26:33``, ``2026年02月10日 07时41分``,
    ``2024年3月``, ``二〇二六年一月二十七日``, ``20251231``, bare years, and epoch
    seconds or milliseconds (``1767180910``, ``1767180910000``: a date in China's
    time); returns ``None`` when there is no plausible date, so a malformed
    field never becomes a wrong one.
    """
    s = as_text(value)
    if s is None:
        return None
    if _EPOCH_RE.fullmatch(s):
        return _from_epoch(s)
    if m := _COMPACT_RE.fullmatch(s):
        return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _DATE_RE.search(s)
    if m:
        y, mo, d = m.groups()
        return _iso(int(y), int(mo) if mo else None, int(d) if d else None)
    m = _CN_DATE_RE.search(s)
    if m:
        y = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
        return _iso(y, _cn_small(m.group(2)), _cn_small(m.group(3)) if m.group(3) else None)
    return None


_TIME_NAME_RE = re.compile(r"time|date|pub|created|updated|stamp|^ts$|日期|时间", re.IGNORECASE)


def date_like(value: Any, name: str = "") -> bool:
    """Whether a field's whole value is a date (with or without a time), or an epoch stamp.

    How a build notices a date in a field it has no name for (``发文时间``,
    ``updated``): such fields are named in its summary instead of silently
    leaving documents undated. A bare number counts only under a name that
    speaks of time (``ts``, ``updated``), so a numeric id is not taken for one.
    """
    s = as_text(value)
    if s is None or len(s) > 40:
        return False
    if _EPOCH_RE.fullmatch(s):
        return bool(_TIME_NAME_RE.search(name)) and _from_epoch(s) is not None
    return bool(_WHOLE_DATE_RE.fullmatch(s)) and parse_date(s) is not None


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


_TITLE_DATE_RE = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日")


def date_from_title(title: str) -> str | None:
    """A full date opening the title: "2024年4月3日外交部发言人…主持例行记者会" -> 2024-04-03."""
    m = _TITLE_DATE_RE.match(title)
    return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


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


#: Document types a title (or a CMS column name) states, each with the words that
#: mark it; FORMATS.md lists them. When several occur, the one nearest the end of
#: the title names the text: "在…新闻发布会上的讲话" is a speech, "关于…政府工作报告的决议" a
#: resolution, "…主持例行记者会" a press conference.
DOC_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(words))
    for name, words in (
        ("决议", r"决议"),
        ("政府工作报告", r"政府工作报告"),
        ("工作报告", r"工作报告"),
        ("记者会", r"记者会|新闻发布会|发布会|记者招待会|吹风会"),
        ("答记者问", r"答记者问|答记者|答问|接受[^，。]{0,20}采访"),
        ("贺词", r"贺词|献词"),
        ("致辞", r"致辞|致词|祝酒辞|欢迎辞"),
        ("讲话", r"讲话|发言|演讲"),
    )
)


def infer_doc_type(
    title: str, *, is_law: bool = False, column: str | None = None, news: bool = False
) -> str | None:
    """Document type from the title, else the CMS column, else a law's form or a news dateline.

    ``news`` says the text opens with a news agency's dateline (新华社北京12月31日电):
    such a text whose title names no speech or report is a 新闻报道. ``None``
    when nothing says what the text is.
    """
    for where in (title, column or ""):
        found = [
            (m.end(), -i, name)
            for i, (name, rx) in enumerate(DOC_TYPES)
            for m in rx.finditer(where)
        ]
        if found:
            return max(found)[2]
    if is_law or _LAW_TITLE_RE.search(title):
        return "法律法规"
    return "新闻报道" if news else None


# ------------------------------------------------------------------------- region

PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省",
    "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
    "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
    "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
    "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
)  # fmt: skip
_PROVINCE_RE = re.compile("|".join(map(re.escape, PROVINCES)))
_NATIONAL_RE = re.compile(
    r"中华人民共和国|国务院|全国人民代表大会|全国人大|全国政协|中共中央|国家主席|国新办|"
    r"(?:外交|国防|教育|科学技术|科技|工业和信息化|公安|民政|司法|财政|人力资源和社会保障|自然资源|"
    r"生态环境|住房和城乡建设|交通运输|水利|农业农村|商务|文化和旅游|退役军人事务|应急管理)部(?!门)"
)


def infer_region(title: str) -> str | None:
    """Province named in the title, or "全国" for the central state's organs (State Council,
    NPC, the ministries, the head of state) and national laws."""
    m = _PROVINCE_RE.search(title)
    if m:
        return m.group(0)
    if _NATIONAL_RE.search(title):
        return "全国"
    return None


# ------------------------------------------------------------------- speech date

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
