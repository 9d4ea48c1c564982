"""Speech-specific cleaning: small, visible rules, applied in order.

Each rule is one function ``rule(text, metadata) -> (text, removed)`` with a
docstring naming the real noise it handles and where it was seen. A rule may
add to ``metadata`` (a "来源：…" line becomes ``source_org``) and returns the
snippets it took out, so :func:`clean_text` can show a person exactly what
each rule removed. :data:`RULES` is the order they run in.

The output contract is what the chunker relies on: one paragraph per line,
lines stripped, no blank lines, Chinese full-width punctuation (，。；：（）“”)
untouched, full-width digits and Latin letters folded to ASCII.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from corpus.metadata import parse_date

__all__ = ["RULES", "CleanResult", "Rule", "clean_text"]

Rule = Callable[[str, dict[str, str]], tuple[str, list[str]]]


@dataclass(slots=True)
class CleanResult:
    """Cleaned text, metadata found in the noise, and what each rule removed.

    ``removed`` holds ``(rule name, removed snippet)`` pairs in the order the
    rules ran, so a user can audit a rule on their own files.
    """

    text: str
    metadata: dict[str, str] = field(default_factory=dict)
    removed: list[tuple[str, str]] = field(default_factory=list)


# ----------------------------------------------------------------- shared helpers

_GREETING_RE = re.compile(r"^(?:各位代表|同志们|女士们|先生们|朋友们|各位委员|各位来宾|尊敬的)")
_CAPTION_RE = re.compile(
    r"(?:记者|摄影|通讯员)[^。\n]{0,20}?摄[）)]?$"  # "…本报记者 戴冰摄", "新华社记者 X 摄"
    r"|(?:新华社|中新社)?发\s*[（(][^（）()\n]{1,20}摄[）)]$"  # "…新华社发（张三 摄）"
    r"|记者\s*[\u4e00-\u9fff]{2,4}(?:\s[\u4e00-\u9fff]{1,3})?$"  # "…甘肃日报记者 盛学卿"
)
_HEAD_LIMIT = 80  # a page head (toolbar, breadcrumb, byline) never runs longer than this


def _body_start(lines: list[str]) -> int:
    """Index of the first line of the speech proper; lines before it are the page head.

    The greeting ("各位代表：", "同志们：") is the surest start; failing that,
    the first long line that is not a photo caption. Rules that remove
    page-head furniture only look above this line, so the same words inside
    the speech are never touched.
    """
    first_long = None
    for i, line in enumerate(lines[:_HEAD_LIMIT]):
        s = line.strip(" \t\u3000")
        if _GREETING_RE.match(s):
            return i
        if first_long is None and len(s) >= 60 and not _CAPTION_RE.search(s):
            first_long = i
    return first_long if first_long is not None else 0


def _drop_lines(lines: list[str], drop: set[int]) -> str:
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


# -------------------------------------------------------------------------- rules


def normalize_newlines(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """CRLF/CR and Unicode line separators become ``\\n``; no-break spaces become spaces.

    Windows-saved speeches use CRLF; pages copied from browsers carry U+2028 and
    U+00A0, which would otherwise survive as invisible paragraph glue.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\xa0", " ")
    return text, []


_ZW = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\xad"
_ZW_LINE_RE = re.compile(rf"^[ \t\u3000]*[{_ZW}]+[ \t\u3000{_ZW}]*\n", re.MULTILINE)
_ZW_RE = re.compile(f"[{_ZW}]")


def strip_zero_width(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Delete zero-width spaces/joiners, BOMs and soft hyphens.

    Wikisource copies of the national reports contain ``\\u200b``, sometimes on
    a line of its own in the middle of a word ("改\\n\\u200b\\n革"); such a line
    is deleted with its newline so it does not read as a paragraph break.
    """
    n = len(_ZW_RE.findall(text))
    if not n:
        return text, []
    text = _ZW_RE.sub("", _ZW_LINE_RE.sub("", text))
    return text, [f"{n} zero-width character(s)"]


_INDENT_RUN_RE = re.compile(r"[ \t]*[\u3000\u2003\u2002]{2,}[ \t\u3000\u2003\u2002]*")
_SPACE_CHARS = " \t\u3000\u2003\u2002"


def split_indented_paragraphs(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """A run of full-width spaces inside a line is a paragraph break: the next paragraph's indent.

    News-site crawls store a whole speech on one line, each paragraph opened by
    two ideographic (``\\u3000\\u3000``) or em spaces (``\\u2003\\u2003``), which
    are then the only paragraph marks. Letter-spacing is not a break: a run
    between two single characters (``总\\u3000\\u3000则`` in a law's heading,
    ``龚\\u3000\\u3000正`` in a byline) stays, and Markdown heading lines keep theirs.
    """
    if "\u3000\u3000" not in text and "\u2003\u2003" not in text and "\u2002\u2002" not in text:
        return text, []
    out: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith("#"):
            out.append(line)
            continue
        pos = 0
        for m in _INDENT_RUN_RE.finditer(line):
            before = line[pos : m.start()].strip(_SPACE_CHARS)
            after = line[m.end() :]
            if not before or not after.strip(_SPACE_CHARS):
                continue
            left = re.split(f"[{_SPACE_CHARS}]", before)[-1]
            right = re.split(f"[{_SPACE_CHARS}]", after, maxsplit=1)[0]
            if len(left) == 1 and len(right) == 1:
                continue
            out.append(line[pos : m.start()])
            pos = m.end()
        out.append(line[pos:])
    return "\n".join(out), []


_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)


def strip_html_comments(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove HTML comments such as ``<!-- INFO END -->`` in the LawRefBook Markdown laws."""
    removed = _COMMENT_RE.findall(text)
    return (_COMMENT_RE.sub("", text), removed) if removed else (text, [])


_WIKI_FOOTER_RE = re.compile(r"\n[ \t\u3000]*本作品(?:是|来自)[\s\S]*$")
_PD_TAIL_RE = re.compile(r"(?:\s*Public domain)+(?:\s*false)*\s*$")


def strip_wikisource_footer(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Cut the Wikisource licence template at the end of each national report.

    Every record of ``government_work_reports.jsonl`` ends with "本作品是中华人民共和国的…
    属于公有领域…Public domain Public domain false false" (or "本作品来自…的决定、决议").
    Only a block near the end that mentions 公有领域 or ends in "Public domain" is cut.
    """
    if "本作品" not in text and "Public domain" not in text:
        return text, []
    start = max(0, len(text) - 3000)
    m = _WIKI_FOOTER_RE.search(text, start)
    if m and ("公有领域" in m.group(0) or _PD_TAIL_RE.search(m.group(0))):
        return text[: m.start()], [m.group(0).strip()]
    m = _PD_TAIL_RE.search(text)
    if m and m.group(0).strip():
        return text[: m.start()], [m.group(0).strip()]
    return text, []


_TOOLBAR_RES = (
    re.compile(r"下载\s*打印\s*全屏\s*收藏"),
    re.compile(r"【\s*字[号体]\s*[:：]?\s*(?:(?:加大|还原|减小|默认|大|中|小)\s*)*】"),
    re.compile(
        r"^[ \t]*【[ \t]*\n?[ \t]*(?:打印本页|关闭窗口|打印|关闭)[ \t]*\n?[ \t]*】[ \t]*$", re.M
    ),
)
_WIDGET_LINE_RE = re.compile(
    r"^[ \t\u3000]*(?:分享(?:到|至)?(?:微信|微博|QQ空间)?\s*[:：]?|【?打印本页】?|【?关闭窗口】?|"
    r"【打印】|【关闭】|扫一扫在手机(?:上)?打开当前页|(?:阅读量|浏览次数|点击数|访问量)\s*[:：]?\s*\d*)"
    r"[ \t\u3000]*$",
    re.MULTILINE,
)


def strip_web_toolbar(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove page widgets: "下载 打印 全屏 收藏 【字号：加大 还原 减小】", share and print links.

    The provincial 2026 CSVs were scraped one word per line, so the toolbar spans
    nine lines ("下载\\n打印\\n…【字号：\\n加大\\n还原\\n减小\\n】"); font-size
    pickers ("【字体：大 中 小】"), "分享到：", "阅读量：", "【打印本页】【关闭窗口】"
    and "扫一扫在手机打开当前页" are removed only as whole lines or whole widgets.
    """
    removed: list[str] = []
    for rx in (*_TOOLBAR_RES, _WIDGET_LINE_RE):
        removed += [m.group(0).strip() for m in rx.finditer(text)]
        text = rx.sub("", text)
    return text, [r for r in removed if r]


_CRUMB_START_RE = re.compile(
    r"^(?:您的位置|当前位置|您现在的位置|所在位置|现在位置)\s*[:：]?\s*(.*)$"
)
_CRUMB_SEP = {">", "＞", "»", ">>", "›", "/"}


def strip_breadcrumb(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove the site breadcrumb at the page head ("您的位置: 首页 > 云南要闻").

    Seen on one line ("您的位置:新文秘网>>会议致辞/…>>正文", scraped speech) and
    one item per line ("当前位置：\\n首页\\n>\\n政务信息\\n>\\n宁夏要闻", and
    without a label: "首页\\n>\\n政府信息公开\\n>…", 陕西). The channel name that
    some portals repeat right under the crumb ("云南要闻\\n云南要闻") goes too.
    """
    lines = text.split("\n")
    head = _body_start(lines)
    drop: set[int] = set()
    i = 0
    while i < head:
        s = lines[i].strip()
        m = _CRUMB_START_RE.match(s)
        starts_bare = s == "首页" and i + 1 < len(lines) and lines[i + 1].strip() in _CRUMB_SEP
        if not (m or starts_bare):
            i += 1
            continue
        j = i + 1 if m else i
        if m and m.group(1):  # the whole crumb is on this line
            drop.add(i)
            i += 1
            continue
        last, want_item = None, True
        while j < head:
            t = lines[j].strip()
            if want_item and t and t not in _CRUMB_SEP and len(t) <= 15:
                last, want_item = t, False
            elif not want_item and t in _CRUMB_SEP:
                want_item = True
            else:
                break
            j += 1
        if j < head and last is not None and lines[j].strip() == last:
            j += 1
        drop.update(range(i, j))
        i = j
    return _drop_lines(lines, drop), ["\n".join(lines[k] for k in sorted(drop))] if drop else []


_SOURCE_RE = re.compile(r"^(?:来源|稿源|信息来源|文章来源)\s*[:：]\s*(.*)$")
_TIME_RE = re.compile(r"^(?:时间|发布时间|发表时间|发布日期|更新时间|日期)\s*[:：]\s*(.*)$")
_AUTHOR_RE = re.compile(r"^(?:作者|撰稿|编辑|责任编辑)\s*[:：]\s*(.*)$")
_STAMP_RE = re.compile(
    r"^\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s+\d{1,2}\s*[:时]\s*\d{1,2}\s*分?(?:\s*[:：]?\s*\d{1,2}\s*秒?)?)?$"
)
_LABEL_RE = re.compile(r"^[^:：]{1,6}[:：]|^【")


def extract_source_and_time(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Turn the page head's "来源：…", "时间：…"/"发布时间：…" and timestamp lines into metadata.

    Provincial pages write "来源：解放日报" / "时间：2026-02-09", or split label and
    value over two lines ("来源:\\n四川日报", "发表时间：\\n2026-02-09 09:45:30"),
    or show a bare timestamp ("2026-02-03 09:02:33"); the scraped speech has
    "发表时间:2025/7/16 22:26:33". Values become ``source_org`` / ``date`` /
    ``author``; only lines above the speech's first line are considered.
    """
    lines = text.split("\n")
    head = _body_start(lines)
    drop: set[int] = set()
    for i in range(head):
        if i in drop:
            continue
        s = lines[i].strip(" \t\u3000")
        nxt = lines[i + 1].strip(" \t\u3000") if i + 1 < head else ""
        for rx, key in ((_SOURCE_RE, "source_org"), (_TIME_RE, "date"), (_AUTHOR_RE, "author")):
            m = rx.match(s)
            if not m:
                continue
            value = m.group(1).strip()
            usable_next = nxt and len(nxt) <= 30 and not _LABEL_RE.match(nxt)
            if not value and usable_next and (key != "date" or parse_date(nxt)):
                value = nxt
                drop.add(i + 1)
            if key == "date":
                value = parse_date(value) or ""
            if value:
                meta.setdefault(key, value)
            drop.add(i)
            break
        else:
            if _STAMP_RE.match(s):
                if d := parse_date(s):
                    meta.setdefault("date", d)
                drop.add(i)
    return _drop_lines(lines, drop), [lines[k].strip() for k in sorted(drop)]


_HEAD_CAPTION_RE = re.compile(r"^[^，。,]{0,40}作政府工作报告[。.]?$")


def strip_photo_captions(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove photo captions: "殷勇同志作政府工作报告。本报记者 戴冰摄".

    A caption is a short line ending in a photographer credit ("…记者 X 摄",
    "…甘肃日报记者 盛学卿"); in the page head also a bare "张工作政府工作报告。" /
    "省长赵刚作政府工作报告" under the photo (天津, 陕西).
    """
    lines = text.split("\n")
    head = _body_start(lines)
    drop = set()
    for i, line in enumerate(lines):
        s = line.strip(" \t\u3000")
        if not s or len(s) > 150:
            continue
        credit = ("记者" in s or "摄" in s) and _CAPTION_RE.search(s)
        if credit or (i < head and _HEAD_CAPTION_RE.match(s)):
            drop.add(i)
    return _drop_lines(lines, drop), [lines[k].strip() for k in sorted(drop)]


_AGENCIES = (
    "新华社|新华网|中新社|中新网|中国新闻社|人民网|人民日报|央视网|央视新闻|央广网|中国之声|光明网|"
    "中国日报网|经济日报|中国青年网|国际在线|澎湃新闻|本报|本台|本网|本刊"
)
_DATELINE_RE = re.compile(
    rf"^[【\[]?(?P<agency>{_AGENCIES})(?:记者)?\s*"
    r"(?:(?P<place>[\u4e00-\u9fff]{2,12}?)\s*(?P<month>\d{1,2})月(?P<day>\d{1,2})日\s*(?:电|讯|消息)|讯)"
    r"[】\]]?\s*(?:[（(](?:记者|通讯员|特约记者)[^（）()]{0,60}[）)])?[\s，,：:]*"
)
_DATELINE_HEAD = 8  # a dateline opens the article: among its first lines


def strip_datelines(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Take a news agency's dateline off the lead paragraph and keep it as metadata.

    "新华社北京12月31日电（记者 张三）国家主席习近平……" keeps "国家主席习近平……";
    ``dateline`` holds the dateline as printed and ``dateline_place`` its place
    (北京). "本报讯（记者 …）" goes the same way. Only the first lines are read:
    a dateline quoted inside an article stays.
    """
    lines = text.split("\n")
    seen = 0
    for i, line in enumerate(lines):
        s = line.strip(" \t\u3000")
        if not s:
            continue
        seen += 1
        if seen > _DATELINE_HEAD:
            break
        m = _DATELINE_RE.match(s)
        if not m:
            continue
        meta.setdefault("dateline", m.group(0).strip(" ，,：:"))
        if m.group("place"):
            meta.setdefault("dateline_place", m.group("place"))
        lines[i] = s[m.end() :]
        return "\n".join(lines), [m.group(0).strip()]
    return text, []


_NEWS_LINE_RE = re.compile(
    r"^(?:[（(]\s*完\s*[）)]|【\s*纠错\s*】.*|[【\[（(]?\s*(?:责任编辑|责编|编辑|校对|审核|审校|监制|统筹|"
    r"策划|制作|值班编辑|实习编辑)\s*[:：][^。！？]{0,40}[】\]）)]?|(?:新华社|人民网|央视网)?[（(]?\s*图片来源\s*[:：].{0,40}|"
    r"[（(]?\s*(?:新华社|本报)?记者\s*[\u4e00-\u9fff ]{2,20}\s*(?:报道|采写)\s*[）)]?)$"
)
_SENTENCE_PUNCT_RE = re.compile(r"[，。；！？,;!?]")
_TRAILING_END_RE = re.compile(r"(?<=[。！？”」）)])\s*(?:[（(]\s*完\s*[）)]|【\s*纠错\s*】)+\s*$")
_INLINE_MARK_RE = re.compile(r"\s*【\s*纠错\s*】\s*")


def strip_news_furniture(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove the news desk's marks: "（完）", "【纠错】", "责任编辑：…", "编辑：…", picture credits.

    A crawl of a news site's speech pages ends each article with "（完）" and an
    editor line, and puts "【纠错】" (a correction-report link) beside it. They
    are whole lines, or the end of the last paragraph ("……。（完）"); an editor
    named in the text ("编辑部") is never touched, because the label needs its colon.
    """
    removed: list[str] = []
    out: list[str] = []
    name_next = False  # "责任编辑：" alone: the name is on the next line
    for line in text.split("\n"):
        s = line.strip(" \t\u3000")
        if name_next and s and len(s) <= 12 and not _SENTENCE_PUNCT_RE.search(s):
            removed[-1] += " " + s
            name_next = False
            continue
        name_next = False
        if s and _NEWS_LINE_RE.match(s):
            removed.append(s)
            name_next = s[-1] in ":："
            continue
        if "完" in s or "纠错" in s:
            cut = _TRAILING_END_RE.sub("", s)
            cut = _INLINE_MARK_RE.sub("", cut) if "纠错" in cut else cut
            if cut != s:
                removed.append(s[len(cut) :].strip() or s)
                line = cut
        out.append(line)
    return "\n".join(out), removed


_FOOTER_RE = re.compile(
    r"版权所有|版权归.{1,20}所有|copyright|©|ICP备|ICP证|公网安备|网站标识码|网站识别码|"
    r"^主办(?:单位)?\s*[:：]|^承办(?:单位)?\s*[:：]|^技术支持\s*[:：]|^(?:网站地图|联系我们|网站声明|关于我们)"
    r"(?:\s*[|｜丨/]\s*.{0,40})?$|^地\s*址\s*[:：].{0,60}(?:邮编|邮政编码)|^(?:邮编|邮政编码)\s*[:：]?\s*\d{6}|"
    r"建议使用.{0,30}浏览器|分辨率",
    re.IGNORECASE,
)
_FOOTER_TAIL = 12  # a site footer is a page's last lines
_FOOTER_LINE_MAX = 120


def strip_site_footer(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Cut the site footer: "…版权所有", "地址：… 邮编：…", "京ICP备…号", "京公网安备…号".

    Government CMS pages end with the site's legal block, which text extraction
    often keeps; indexed, it is one passage repeated on every page of the site.
    Among the last lines, the first that carries a footer mark starts the cut
    when every line from it to the end is short; a footer mark further up, or a
    long line after it, leaves the text alone.
    """
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    tail = filled[-_FOOTER_TAIL:]
    for n, i in enumerate(tail):
        if not _FOOTER_RE.search(lines[i].strip(" \t\u3000")):
            continue
        if all(len(lines[j].strip()) <= _FOOTER_LINE_MAX for j in tail[n:]):
            kept = "\n".join(lines[:i])
            return kept, ["\n".join(lines[j].strip() for j in tail[n:])]
        break
    return text, []


_OUTLINE_RE = re.compile(r"^(?:目\s*录|提\s*纲|目录\s*/\s*提纲|内容提要)\s*[:：/]?\s*[…\.。]*$")
_ELLIPSIS_LINE_RE = re.compile(r"^[…\.。·]+$")
_ENUM_RE = re.compile(
    r"^(?:[一二三四五六七八九十百]+[、．.]|[（(][一二三四五六七八九十百\d]+[)）]"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条部分篇编]|\d{1,2}[.．、](?!\d)|[①-⑳])"
)


def strip_outline(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove a table of contents at the head ("目录/提纲:……" then the heading list).

    Ghost-writing sites print the speech's outline before the speech; left in,
    every heading would appear twice and the chunker would see an empty
    section per heading. The block ends at the first line that is not a short
    numbered heading or an ellipsis.
    """
    lines = text.split("\n")
    head = _body_start(lines)
    for i in range(head):
        if not _OUTLINE_RE.match(lines[i].strip()):
            continue
        j = i + 1
        while j < len(lines):
            t = lines[j].strip(" \t\u3000")
            if not t or _ELLIPSIS_LINE_RE.match(t) or (_ENUM_RE.match(t) and len(t) <= 50):
                j += 1
                continue
            break
        return _drop_lines(lines, set(range(i, j))), ["\n".join(lines[i:j]).strip()]
    return text, []


_PAYWALL_MID_RE = re.compile(
    r"[ \t]*[…\.]*[ \t]*[（(][^（）()\n]{0,60}省略\s*\d+\s*字[^（）()\n]{0,60}[）)][ \t]*[…\.]*[ \t]*"
)
_PAYWALL_END_RE = re.compile(r"[ \t]*[…\.]*[ \t]*[（(]\s*未完[,，][^\n]*")


def strip_paywall_notes(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Remove paywall truncation notes but keep the text on both sides.

    "……（新文秘网http://www.wm114.cn省略991字，正式会员可完整阅读）……" becomes a
    paragraph break (the text on either side is not contiguous, so it must not be
    glued into one false sentence); "……（未完，全文共8303字，当前仅显示2783字，…"
    is cut to the end of its line. Digits the site masked as ``*`` stay.
    """
    removed: list[str] = []
    if "省略" in text:
        removed += [m.group(0).strip() for m in _PAYWALL_MID_RE.finditer(text)]
        text = _PAYWALL_MID_RE.sub("\n\n", text)
    if "未完" in text:
        removed += [m.group(0).strip() for m in _PAYWALL_END_RE.finditer(text)]
        text = _PAYWALL_END_RE.sub("", text)
    return text, removed


_TAIL_MARK_RE = re.compile(
    r"^(?:相关(?:报道|新闻|文档|附件|链接|阅读|稿件|专题)|责任编辑|编辑\s*[:：]|"
    r"[（(]\s*来源\s*[:：][^（）()]{1,30}[）)]$|扫一扫|》》点击|【?\s*打印本页|【?\s*关闭窗口|"
    r"【打印】|【关闭】|分享到)"
)
_TAIL_JUNK_RE = re.compile(r"^[【】|｜×\s]*$")
_PAREN_SOURCE_RE = re.compile(r"^[（(]\s*来源\s*[:：]\s*([^（）()]{1,30})[）)]$")


def strip_web_tail(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Cut the page tail: "相关报道：" and everything after it.

    Scraped pages end with related-article lists ("相关报道：", "相关文档：",
    "相关附件>>"), editor credits ("责任编辑：\\n李莎莎", "（来源：青海日报）\\n
    编辑：何继红"), share/print widgets; the 四川 page then repeats its own header.
    Only a marker in the second half of the text starts the cut, so an early
    "相关" sentence can never truncate a speech. A "（来源：…）" credit fills
    ``source_org`` when the head had none.
    """
    lines = text.split("\n")
    n = len(lines)
    for i in range(max(1, n // 2), n):
        s = lines[i].strip(" \t\u3000")
        if not _TAIL_MARK_RE.match(s):
            continue
        k = i
        while k > 0 and _TAIL_JUNK_RE.match(lines[k - 1]) and lines[k - 1].strip():
            k -= 1
        for t in lines[k:]:
            if m := _PAREN_SOURCE_RE.match(t.strip()):
                meta.setdefault("source_org", m.group(1).strip())
        return "\n".join(lines[:k]), ["\n".join(lines[k:]).strip()]
    return text, []


def drop_repeated_head_lines(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Drop a page-head line that repeats an earlier one (title or byline shown twice).

    The 陕西 page prints title and byline above and below its breadcrumb; the
    scraped speech repeats its title after the outline.
    """
    lines = text.split("\n")
    head = _body_start(lines)
    seen: set[str] = set()
    drop = set()
    for i in range(head):
        s = lines[i].strip(" \t\u3000")
        if not s:
            continue
        if s in seen:
            drop.add(i)
        seen.add(s)
    return _drop_lines(lines, drop), [lines[k].strip() for k in sorted(drop)]


_FULLWIDTH = {cp: cp - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for cp in range(r[0], r[1] + 1)}  # fmt: skip
_FW_ANY_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_FW_NUMBER_PUNCT_RE = re.compile(r"(?<=\d)．(?=\d)|(?<=\d)％")


def fullwidth_to_halfwidth(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Fold full-width digits and Latin letters to ASCII (``１９５５`` -> ``1955``).

    The 1990s-2000s national reports write numbers full-width ("增长７．３％");
    "．" between digits and "％" after a digit are folded with them so numbers
    read like the modern reports ("7.3%"). Chinese punctuation (，。；：（）“”)
    is left alone: readers and the chunker rely on it.
    """
    if not _FW_ANY_RE.search(text):
        return text, []
    text = text.translate(_FULLWIDTH)
    text = _FW_NUMBER_PUNCT_RE.sub(lambda m: "." if m.group(0) == "．" else "%", text)
    return text, []


_SPACED_RUN_RE = re.compile(r"\d \d \d")
_DIGIT_SPACE_RE = re.compile(r"(?<=\d) (?=[\d\u4e00-\u9fff%])")


def collapse_spaced_digits(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Close up digits spaced one by one ("本届政府从1 9 9 3 年3 月" -> "从1993年3月").

    The 1998 national report (Wikisource) spaces every digit, which breaks both
    keyword search for "1993年" and number reading. Only lines that show a run
    of three spaced digits are touched, and only spaces after a digit.
    """
    if not _SPACED_RUN_RE.search(text):
        return text, []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _SPACED_RUN_RE.search(line):
            lines[i] = _DIGIT_SPACE_RE.sub("", line)
    return "\n".join(lines), []


_TERMINAL = set("。！？；：…!?;:")
_CLOSERS = set("”’」』）)》〉】]")
_OPENERS = set("“‘《（(「『〈【[")
_CONTINUERS = set("，。、；：）》”’」』！？%),.;:!?〉】]")
_MARKUP_RE = re.compile(r"^(?:#{1,6}\s|\||[-*+]\s|>)")
_BARE_ENUM_RE = re.compile(
    r"^(?:[（(]|[（(]?[一二三四五六七八九十百\d]{1,3}[)）、，,．.]|第[一二三四五六七八九十百\d]{1,3}[、，,]|首先，|其次，)$"
)
_BYLINE_START_RE = re.compile(r"^(?:[—―]{1,2}|[（(][\d〇一二三四五六七八九十]{2,4}年)")
_DANGLING_END = set("的和与及或之在对把被从向为将")


def _ends_sentence(s: str) -> bool:
    t = s.rstrip("".join(_CLOSERS))
    return bool(t) and t[-1] in _TERMINAL


def _is_heading(s: str) -> bool:
    """A numbered heading line ("（三）…", "一、…", "第二章 …"), not a numbered paragraph."""
    if _MARKUP_RE.match(s):
        return True
    if not _ENUM_RE.match(s) or len(s) > 40 or "。" in s[:-1]:
        return False
    colon = max(s.find("："), s.find(":"))
    return colon < 0 or colon >= len(s) - 1


def _is_prose(s: str) -> bool:
    return (
        len(s) >= 25
        and any(p in s for p in "，。、；")
        and not _is_heading(s)
        and not _BYLINE_START_RE.match(s)
    )


def _is_fragment(s: str) -> bool:
    return (
        len(s) <= 12
        and not any(p in s for p in "，。；：！？、,;:!?")
        and not _ENUM_RE.match(s)
        and not _GREETING_RE.match(s)
    )


def _should_join(
    prev: str, cur: str, *, soft: bool, glued: bool, first: bool = False
) -> tuple[bool, bool]:
    """Whether ``cur`` continues ``prev``; second value: the join glued an inline fragment.

    ``first`` says ``prev`` is the first line of the text (a title there stays alone).
    """
    if _MARKUP_RE.match(prev) or _MARKUP_RE.match(cur) or _BYLINE_START_RE.match(cur):
        return False, False
    if prev[-1] in _OPENERS or _BARE_ENUM_RE.match(prev):  # "根据《" + "…"; "（" + "三）…"
        return True, False
    if cur[0] in _CONTINUERS:  # "政府工作报告" + "。会议充分…"
        return True, False
    if _ends_sentence(prev):
        return False, False
    if prev[-1] in "，、,":  # mid-sentence
        return True, False
    if _is_heading(cur):
        return False, False
    if _BYLINE_START_RE.match(prev):  # a byline continues only onto its own tail
        # "——2026年1月26日在广东省第十四届" + "人民代表大会第五次会议上"
        return bool(re.search(r"(?:上|讲话|致辞)[）)]?$", cur) and len(cur) <= 30), False
    if glued:
        return True, False
    if soft:
        title_like = (
            len(prev) <= 50
            and not any(p in prev for p in "，。；：！？,;:!?")
            and prev[-1] not in _DANGLING_END
        )
        return not _is_heading(prev) and not (first and title_like), False
    dangling = len(prev) >= 6 and (
        prev[-1] in _DANGLING_END or (prev[-1].isascii() and prev[-1].isalnum())
    )
    if _is_fragment(cur) and (dangling or _is_prose(prev)) and not _is_heading(prev):
        return True, True  # "…发展的" + "主要目标" (+ "是：…"), "…PM" + "2.5", "…“双向" + "揭榜"
    if _is_prose(prev):  # a long sentence cut mid-way
        return True, False
    return False, False


def join_broken_lines(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """Re-join lines broken inside a sentence; keep real paragraph and heading breaks.

    Two layouts occur. Wikisource reports separate paragraphs by blank lines, and
    a single newline inside a paragraph is where a wiki link was
    ("所作的\\n政府工作报告\\n。"): there, lines of one paragraph are joined unless
    the earlier line ends a sentence or the later one is a numbered heading.
    Scraped pages put one paragraph per line, so a line is joined to the previous
    one only on clear evidence: it starts with closing punctuation, the previous
    line ends with an opening bracket or a comma, or it is a short fragment left
    by a bold span or link ("…发展的\\n主要目标\\n是：…", "PM\\n2.5\\n年平均浓度").
    A blank line is never crossed; headings and short title lines stay separate.
    """
    raw = [line.strip(" \t\u3000") for line in text.split("\n")]
    nonblank = sum(1 for s in raw if s)
    blank_runs = sum(1 for a, b in itertools.pairwise(raw) if a and not b)
    soft = nonblank > 0 and blank_runs >= 0.25 * nonblank
    out: list[str] = []
    prev_blank, glued = True, False
    for s in raw:
        if not s:
            if out and out[-1]:
                out.append("")
            prev_blank, glued = True, False
            continue
        if not prev_blank:
            join, frag = _should_join(out[-1], s, soft=soft, glued=glued, first=len(out) == 1)
            if join:
                out[-1] += s
                glued = frag  # the line after an inline fragment continues the sentence too
                continue
        out.append(s)
        prev_blank, glued = False, False
    return "\n".join(out), []


_SPACES_RE = re.compile(r"[ \t\u3000]+")


def tidy_whitespace(text: str, meta: dict[str, str]) -> tuple[str, list[str]]:
    """One paragraph per line: strip lines (incl. ``\\u3000`` indentation), drop blank lines.

    Inner runs of spaces/ideographic spaces shrink to one ASCII space
    ("省长\\u3000王予波" -> "省长 王予波").
    """
    lines = (_SPACES_RE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line), []


#: The rules in the order :func:`clean_text` applies them. Removal rules run
#: before :func:`join_broken_lines` so page furniture is never glued into text.
RULES: list[Rule] = [
    normalize_newlines,
    strip_zero_width,
    split_indented_paragraphs,
    strip_html_comments,
    strip_wikisource_footer,
    strip_web_toolbar,
    strip_breadcrumb,
    extract_source_and_time,
    strip_photo_captions,
    strip_datelines,
    strip_news_furniture,
    strip_outline,
    strip_paywall_notes,
    strip_site_footer,
    strip_web_tail,
    drop_repeated_head_lines,
    fullwidth_to_halfwidth,
    collapse_spaced_digits,
    join_broken_lines,
    tidy_whitespace,
]


def clean_text(text: str, rules: list[Rule] | None = None) -> CleanResult:
    """Apply ``rules`` (default :data:`RULES`) in order and collect metadata and removals.

    Parameters
    ----------
    text : raw speech text as decoded from the source.
    rules : the rules to run, in order; default :data:`RULES`.

    Returns
    -------
    CleanResult with the cleaned text (one paragraph per line), the metadata
    found in page furniture (``source_org``, ``date``, ``author``) and the
    ``(rule name, removed snippet)`` pairs.
    """
    meta: dict[str, str] = {}
    removed: list[tuple[str, str]] = []
    for rule in RULES if rules is None else rules:
        text, gone = rule(text, meta)
        removed.extend((rule.__name__, s) for s in gone if s.strip())
    return CleanResult(text=text, metadata=meta, removed=removed)
