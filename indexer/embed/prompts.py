"""Which prompts a model wants before queries and before passages.

Read by the embedder (torch path) and by the ONNX export (which records them),
so both agree without loading the model twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："
_BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "
# (name pattern, (query prompt, passage prompt)) for models that save no prompts;
# first match wins, so the specific bge variants come before bge in general.
_FAMILY_PROMPTS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"bge-m3"), ("", "")),  # trained without instructions
    (re.compile(r"bge-.*\ben\b|bge-en"), (_BGE_EN_QUERY, "")),
    (re.compile(r"bge"), (_BGE_ZH_QUERY, "")),
    (re.compile(r"(?<![a-z0-9])e5(?![a-z0-9])"), ("query: ", "passage: ")),
)
_PASSAGE_PROMPT_NAMES = ("passage", "document", "corpus")


def model_prompts(saved_prompts: Mapping[str, str] | None, name: str) -> tuple[str, str]:
    """(query, passage) prompts the model was saved with (``model.prompts``), else its family's.

    The family is read from the last part of the name (hub repo or folder), so a
    parent folder's name cannot pick it.

    sentence-transformers fills unset prompt names with "", so only non-empty
    prompts count as saved; when any is, an empty one on the other side is meant.
    """
    saved = {key: text for key, text in (saved_prompts or {}).items() if text}
    if saved:
        passage = next((saved[k] for k in _PASSAGE_PROMPT_NAMES if k in saved), "")
        return saved.get("query", ""), passage
    base_name = name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, prompts in _FAMILY_PROMPTS:
        if pattern.search(base_name):
            return prompts
    return "", ""
