"""Who gave a speech, read from the patterns Chinese official titles and bylines use.

Precision before recall: a wrong name on a citation is worse than none, so a
name is taken only where the text's own grammar places it, and only when it
reads as a person's name (a known surname and two or three characters, or a
transliterated name with ``·``). Patterns, with the role kept apart from the
name:

- titles: ``习近平：在…上的讲话``, ``李强在…上的讲话``, ``省长王明远在…会议上的讲话``,
  ``赵立新同志在…上的讲话``, ``国家主席习近平发表二〇二六年新年贺词``,
  ``2024年4月3日外交部发言人汪文斌主持例行记者会``,
  ``商务部新闻发言人何亚东就…答记者问``;
- bylines in the first lines: ``上海市市长 龚 正``, ``……会议上 陕西省省长 赵刚``,
  ``——在…上的讲话 张三``, a bare name on the line after the occasion line (and
  after a date line under it: ``在…会议上的讲话`` / ``（2025年3月12日）`` / ``王明远``).

A title that reports on someone (``李强主持召开国务院常务会议``, ``…时强调``) names
no speaker of the text: it is a news report, and none is taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Speaker", "infer_speaker", "speaker_from_title", "valid_name"]

#: Common single-character surnames (the great majority of officials' names).
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰"
    "焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁"
    "蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂"
    "全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠"
    "荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹"
    "井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰"
    "赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝"
    "智幸奉植衡富尧闭由习邴逄郦雒酆眭沃桓阎晏丘储鄂钭荀蔚璩祭闾笪乜弓郗鄞郏牧扶尕旦次达洛拉"
    "格扎才多加央其"
)
_COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "令狐", "钟离", "端木", "南宫", "西门", "独孤", "澹台", "万俟",
)  # fmt: skip
#: Words that end an office (``外交部发言人``, ``国家主席``, ``省长``); the name follows.
_OFFICES = (
    "新闻发言人|发言人|总书记|副总理|总理|副主席|主席|副委员长|委员长|副省长|省长|副市长|市长|"
    "副书记|书记|副部长|部长|副主任|主任|副局长|局长|副厅长|厅长|副院长|院长|检察长|秘书长|"
    "副区长|区长|副县长|县长|副州长|州长|盟长|旗长|司长|大使|总领事|总干事|署长|行长|会长|董事长"
)
_HAN = "\u4e00-\u9fff"
#: Subjects of a title that are bodies, not people, though they start with a surname
#: character (国务院, 党中央, 全省, 高校).
_NOT_NAME_WORDS = ("中央", "政府", "国务", "委员", "会议", "大会", "人民", "党委", "代表", "全体", "高校")  # fmt: skip
_PLACE_ENDS = set("省市县区州旗盟镇乡村部局厅委办院校")
#: A name as written: Han characters, maybe split by spaces (``龚 正``) or a middle dot.
_NAME = rf"[{_HAN}](?:[{_HAN}·・]|[ \u3000](?=[{_HAN}])){{1,14}}"
#: What a speech title calls the text itself.
_SPEECH = r"(?:重要|主旨|总结|开幕|闭幕|电视|书面)?(?:讲话|致辞|致词|贺词|献词|发言|演讲|报告)"
_DATE_PREFIX = re.compile(r"^\s*(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-.]\d{1,2}[-.]\d{1,2})\s*")

#: ``习近平：在…上的讲话`` (the name, a colon, the speech)
_COLON_TITLE = re.compile(
    rf"^(?P<name>{_NAME}?)\s*[：:]\s*(?:在.{{2,60}}?(?:上|时|中)的{_SPEECH}|.{{0,60}}?{_SPEECH})"
    r"[）)]?$"
)
#: ``[role]NAME[同志]在…上的讲话``
_AT_TITLE = re.compile(
    rf"^(?:(?P<role>.{{0,40}}(?:{_OFFICES}))[ \u3000]?)?(?P<name>{_NAME}?)(?:同志)?"
    rf"在.{{2,80}}?(?:上|时|中|期间)的{_SPEECH}"
)
#: ``role NAME 发表…贺词``, ``role NAME 主持例行记者会``, ``role NAME 就…答记者问``
_ROLE_TITLE = re.compile(
    rf"^(?P<role>.{{0,40}}(?:{_OFFICES}))[ \u3000]?(?P<name>{_NAME}?)(?:同志)?"
    rf"(?:发表.{{0,30}}?{_SPEECH}|主持.{{0,10}}?(?:记者会|新闻发布会|发布会)|就.{{1,80}}?答记者问|"
    rf"答记者问|作.{{0,20}}?报告)"
)
#: "上海市市长 龚 正", "…会议上 陕西省省长 赵刚", "自治区主席 艾尔肯·吐尼亚孜"
_OFFICE_NAME_RE = re.compile(
    rf"(?:^|[ \u3000])(?P<role>[{_HAN}、]{{0,20}}?(?:{_OFFICES}))(?P<gap>[ \u3000]*)(?P<name>{_NAME})$"
)
#: "——在全市…会议上的讲话 张三" (name after the occasion on the same line)
_BYLINE_NAME_RE = re.compile(rf"^[—―-]{{1,2}}.*上的{_SPEECH}[ \u3000]+(?P<name>{_NAME})$")
#: "——2026年2月3日在…会议上", "（2026年1月27日在…会议上）", "——在…上的讲话"
OCCASION_RE = re.compile(
    r"^[（(]?[—―-]{0,2}\s*(?:[\d〇○一二三四五六七八九十]{2,4}年.{1,10}日\s*)?在.{2,60}?"
    r"(?:[会會][议議]|大[会會]|[会會]|典礼|仪式|论坛|开幕式|座谈[会會])上(?:的(?:讲话|致辞|发言|报告))?[）)]?"
)
#: A line that is only a date, as under a speech's title: "（2025年3月12日）"
_DATE_LINE = re.compile(
    r"^[（(]?[\d〇○一二三四五六七八九十]{4}年[\d〇○一二三四五六七八九十]{1,3}月"
    r"[\d〇○一二三四五六七八九十]{1,3}日[）)]?$"
)
_BARE_NAME_RE = re.compile(rf"^[{_HAN}][{_HAN}·・ \u3000]{{1,9}}$")


@dataclass(frozen=True, slots=True)
class Speaker:
    """A speaker's name (``汪文斌``) and, where the text states it, their role (``外交部发言人``)."""

    name: str
    role: str | None = None


def valid_name(raw: str) -> str | None:
    """``raw`` as a person's name (spaces removed), or ``None`` when it does not read as one.

    Two or three characters after a known surname (four after a two-character
    one), or a transliterated name whose parts a middle dot joins.
    """
    name = re.sub(r"[ \u3000]", "", raw).replace("・", "·")
    if "·" in name:
        parts = name.split("·")
        ok = (
            all(parts)
            and 3 <= len(name) <= 15
            and all(re.fullmatch(f"[{_HAN}]+", p) for p in parts)
        )
        return name if ok else None
    if not re.fullmatch(f"[{_HAN}]+", name):
        return None
    if any(w in name for w in _NOT_NAME_WORDS) or (len(name) == 2 and name[1] in _PLACE_ENDS):
        return None
    if name[:2] in _COMPOUND_SURNAMES:
        return name if 3 <= len(name) <= 4 else None
    return name if 2 <= len(name) <= 3 and name[0] in _SURNAMES else None


def _role(raw: str | None) -> str | None:
    """The office as stated, without the ranks listed before it (``…常委、国务院总理`` -> 国务院总理)."""
    if not raw:
        return None
    role = re.split(r"[、，,]", raw.strip(" \u3000"))[-1].strip(" \u3000")
    return role or None


def speaker_from_title(title: str) -> Speaker | None:
    """The speaker a title names as giving the text itself, else ``None``."""
    t = _DATE_PREFIX.sub("", title.strip())
    for rx in (_COLON_TITLE, _ROLE_TITLE, _AT_TITLE):
        m = rx.match(t)
        if not m:
            continue
        if name := valid_name(m.group("name")):
            return Speaker(name, _role(m.groupdict().get("role")))
    return None


def infer_speaker(lines: Iterable[str], limit: int = 12) -> Speaker | None:
    """Speaker named by a byline or a title line among the first ``limit`` lines, else ``None``.

    Handles "省长 王某" / "上海市市长 龚 正", a name after "——在…上的讲话", a bare
    name on the line after the occasion line (a date line may stand between),
    and a title pattern (:func:`speaker_from_title`) on a first line. It never
    guesses from the body text.
    """
    after_occasion = False
    for i, raw in enumerate(lines):
        if i >= limit:
            break
        line = raw.strip()
        if not line or len(line) > 90:
            after_occasion = False
            continue
        if (m := _OFFICE_NAME_RE.search(line)) and (name := _byline_name(m)):
            return Speaker(name, _role(m.group("role")))
        if (m := _BYLINE_NAME_RE.search(line)) and (name := _loose_name(m.group("name"))):
            return Speaker(name)
        if after_occasion and _BARE_NAME_RE.match(line) and (name := _loose_name(line)):
            return Speaker(name)
        if i < 3 and (found := speaker_from_title(line)):
            return found
        if _DATE_LINE.match(line):
            continue  # a date under the occasion: the name may follow it
        after_occasion = bool(OCCASION_RE.match(line) or re.search(rf"上的{_SPEECH}$", line))
    return None


def _byline_name(m: re.Match[str]) -> str | None:
    """The name of an office byline: set apart by a space (``国务院总理 李克强``) the layout
    says it is one; run on (``国务院总理李克强``) it must read as a name (not ``发言人表态``)."""
    return _loose_name(m.group("name")) if m.group("gap") else valid_name(m.group("name"))


_NOT_NAMES = ("各位代表", "同志们", "女士们", "朋友们", "先生们", "目录", "提纲")


def _loose_name(s: str) -> str | None:
    """A name where a byline's layout already says it is one: any 2-12 characters but a greeting.

    Bylines (``国务院总理 李克强``, a name alone under the occasion line) are
    unambiguous positions, so a surname missing from the list must not lose them.
    """
    name = re.sub(r"[ \u3000]", "", s)
    return name if 2 <= len(name) <= 12 and not name.startswith(_NOT_NAMES) else None
