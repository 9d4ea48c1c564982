"""An export's tokenizer, with a small copy that loads in milliseconds for Chinese text.

Loading the full tokenizer means parsing a vocabulary of 250,002 pieces: 0.9 s,
most of what a one-off ``govspeech search`` costs once the index is open
(the graph itself loads in 0.35 s). Chinese queries need a tenth of it. The
small copy keeps only the pieces made of Han characters, CJK and ASCII
punctuation, digits, the word-start mark and the prompts' letters (~20,000
pieces, 30 ms to load) and encodes any text made of those characters exactly
as the full tokenizer does: a Unigram model segments each word with pieces
that are substrings of it, and every such piece is in the copy. The piece with
the lowest score is kept too, so unknown characters cost the same. A text
with any other character (GDP, an English name) goes to the full tokenizer,
loaded on first need.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from indexer.embed.files import atomic_write

FULL_FILE = "tokenizer.json"
SMALL_FILE = "tokenizer.small.json"
#: the small copy's piece ids in the full vocabulary, and the characters it covers
SMALL_MAP_FILE = "tokenizer.small.map.json"
#: Han, CJK punctuation, full-width forms, digits, ASCII punctuation, the word-start mark
_COVERED = (
    "\u2581\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef0-9!-/:-@\\[-`{-~"
    "\u00b7\u2014\u2018-\u201d\u2026 "
)
#: the special pieces (<s>, <pad>, </s>, <unk>) keep their ids
_SPECIALS = 4


class ExportTokenizer:
    """Token ids and attention masks of a batch, from the small copy where it covers the batch.

    A tokenizer other than a Unigram one (a WordPiece model a user names) has no
    small copy and always loads whole. The full tokenizer is checked against
    the small copy when it loads and raises ``ValueError`` if they disagree (a
    damaged file).
    """

    def __init__(self, folder: Path, prompts: Sequence[str]) -> None:
        self._folder = folder
        self._full: Tokenizer | None = None
        self._lock = threading.Lock()
        self._small: Tokenizer | None = None
        try:
            if not (folder / SMALL_FILE).is_file() or not (folder / SMALL_MAP_FILE).is_file():
                make_small(folder, prompts)
        except ValueError:
            return
        mapping = json.loads((folder / SMALL_MAP_FILE).read_text(encoding="utf-8"))
        self._ids = np.asarray(mapping["ids"], dtype=np.int64)
        self._covered = re.compile(f"[{mapping['chars']}]*")
        self._small = Tokenizer.from_file(str(folder / SMALL_FILE))

    def covers(self, text: str) -> bool:
        """Whether the small copy encodes ``text`` exactly (its normalised characters are covered)."""
        if self._small is None:
            return False
        normalizer = self._small.normalizer
        normalised = normalizer.normalize_str(text) if normalizer is not None else text
        return self._covered.fullmatch(normalised) is not None

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``input_ids`` and ``attention_mask`` of ``texts``, padded to the longest."""
        if self._small is not None and all(self.covers(t) for t in texts):
            encodings = self._small.encode_batch(texts)
            ids = self._ids[np.array([e.ids for e in encodings], dtype=np.int64)]
        else:
            encodings = self.full.encode_batch(texts)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
        return ids, np.array([e.attention_mask for e in encodings], dtype=np.int64)

    @property
    def full(self) -> Tokenizer:
        """The whole vocabulary, loaded on first need."""
        if self._full is not None:
            return self._full
        with self._lock:
            if self._full is None:
                full = Tokenizer.from_file(str(self._folder / FULL_FILE))
                probe = "query: 成果转化 措施，２０２５年（一）"
                if self._small is not None and self.covers(probe):
                    small = self._ids[self._small.encode(probe).ids].tolist()
                    if full.encode(probe).ids != small:
                        raise ValueError(f"the tokenizer files in {self._folder} disagree")
                self._full = full
            return self._full


def make_small(folder: Path, prompts: Sequence[str]) -> None:
    """Write the small copy of ``folder``'s tokenizer (and its id map) beside it."""
    spec = json.loads((folder / FULL_FILE).read_text(encoding="utf-8"))
    model = spec["model"]
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ValueError(f"no small copy of a {model.get('type')} tokenizer")
    if model.get("unk_id") is not None and model["unk_id"] >= _SPECIALS:
        raise ValueError("no small copy: the unknown piece is not among the first pieces")
    letters = sorted({c for p in prompts for c in p if not re.fullmatch(f"[{_COVERED}]", c)})
    chars = _COVERED + "".join(re.escape(c) for c in letters)
    piece = re.compile(f"[{chars}]+")
    added = [t["id"] for t in spec.get("added_tokens", []) if piece.fullmatch(t["content"])]
    template = (spec.get("post_processor") or {}).get("special_tokens", {}).values()
    pad = (spec.get("padding") or {}).get("pad_id", 0)
    specials = [*added, *(i for t in template for i in t["ids"]), pad]
    if any(i >= _SPECIALS for i in specials):
        raise ValueError("no small copy: special tokens beyond the first pieces")
    vocab = model["vocab"]
    lowest = min(range(len(vocab)), key=lambda i: vocab[i][1])
    keep = [
        i
        for i, (text, _) in enumerate(vocab)
        if i < _SPECIALS or i == lowest or piece.fullmatch(text)
    ]
    spec["model"] = {**model, "vocab": [vocab[i] for i in keep]}
    mapping = json.dumps({"chars": chars, "ids": keep})
    atomic_write(folder / SMALL_FILE, lambda tmp: Path(tmp).write_text(json.dumps(spec), "utf-8"))
    atomic_write(folder / SMALL_MAP_FILE, lambda tmp: Path(tmp).write_text(mapping, "utf-8"))
