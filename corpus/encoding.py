"""Turn file bytes into text: UTF-8 first, then GBK/GB18030 or BIG5 as detected.

Chinese government files arrive as UTF-8 (with or without BOM), GBK from older
Windows tools, or BIG5 from Taiwan/Hong Kong sources. UTF-8 is tried strictly
first because it almost never decodes non-UTF-8 bytes by accident. GBK and
BIG5 cannot be told apart by trial decoding (nearly every BIG5 byte pair is
also a valid GBK pair, meaning gibberish), so charset-normalizer, which scores
how "natural" each candidate decoding reads, picks between them.
"""

from __future__ import annotations

import codecs

import charset_normalizer

__all__ = ["DecodeError", "decode_bytes"]

#: Candidates handed to charset-normalizer; restricting them keeps detection
#: fast and stops it from "explaining" Chinese bytes as a Western code page.
_CANDIDATES = ["gb18030", "gbk", "gb2312", "big5", "cp950", "big5hkscs", "utf_16", "utf_32"]
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class DecodeError(ValueError):
    """The bytes are not text in any encoding we accept; the message is for people."""


def _family(name: str) -> list[str]:
    """Codecs to try for a detected encoding, most faithful first.

    GB2312 and GBK are subsets of GB18030, so decoding with GB18030 never loses
    a character the file really has; BIG5 has vendor extensions (cp950, HKSCS).
    """
    n = name.lower().replace("-", "_")
    if n.startswith(("gb", "hz")):
        return ["gb18030"]
    if n.startswith(("big5", "cp950")):
        return [name, "cp950", "big5hkscs"]
    return [name]


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode ``data``; returns ``(text, encoding)`` or raises :class:`DecodeError`."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise DecodeError(f"broken {enc} text after a byte-order mark: {e.reason}") from e
    try:
        text, enc = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(data, cp_isolation=_CANDIDATES).best()
        if best is None:
            raise DecodeError("not valid UTF-8/GBK/BIG5") from None
        for codec in _family(best.encoding):
            try:
                text, enc = data.decode(codec), codec
                break
            except (UnicodeDecodeError, LookupError):
                continue
        else:
            raise DecodeError("not valid UTF-8/GBK/BIG5") from None
    if "\x00" in text:
        raise DecodeError("binary data (NUL bytes), not a text file")
    return text, enc
