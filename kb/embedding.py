"""Text embeddings through sentence-transformers, cached by (model id, text hash).

The cache is a SQLite file outside the index versions, so re-indexing unchanged text costs a
lookup, not a forward pass. Missing texts are embedded in length-sorted batches (less padding).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.settings import KbSettings, quantization_config

if TYPE_CHECKING:
    from optimum.onnxruntime.configuration import QuantizationConfig
    from sentence_transformers import SentenceTransformer

ProgressCallback = Callable[[int], None]
log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading bars on every CLI call
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_MODELS: dict[tuple[str, str], SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()
ONNX_FILE = "onnx/model.onnx"


def load_model(
    model_path: str, backend: str = "torch", onnx_dir: Path | None = None, threads: int = 0
) -> SentenceTransformer:
    """One model instance per (path, backend, threads) and process (loading takes seconds).

    ``torch`` runs the model as it is; ``onnx`` and ``onnx-int8`` run sentence-transformers' ONNX backend on
    an export made once into ``onnx_dir`` (see ``ensure_onnx_export``), never downloaded. ``threads`` > 0
    caps ONNX Runtime at that many threads, which wait without spinning (see ``onnx_session_options``).
    """
    with _MODELS_LOCK:
        key = (model_path, backend, threads)
        if key not in _MODELS:
            if not Path(model_path).exists():
                raise FileNotFoundError(
                    f"嵌入模型路径不存在 / embedding model path does not exist: {model_path} (setting HUB_KB_MODEL)"
                )
            if backend == "torch":
                _MODELS[key] = _sentence_transformer(Path(model_path))
            else:
                if onnx_dir is None:
                    raise ValueError(f"backend {backend} needs the folder of its ONNX export")
                folder, file_name = ensure_onnx_export(Path(model_path), onnx_dir, backend)
                _MODELS[key] = _onnx_sentence_transformer(folder, file_name, threads)
        return _MODELS[key]


def _sentence_transformer(path: Path, backend: str = "torch") -> SentenceTransformer:
    """A sentence-transformers folder as it is; a bare Hugging Face encoder (the bundled m3e-small has no
    modules.json) with mean pooling, as m3e was trained and as sentence-transformers would guess, said here
    rather than left to a log line that reads like an error."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    if (path / "modules.json").exists():
        return SentenceTransformer(str(path), device="cpu", local_files_only=True, backend=backend)
    encoder = Transformer(str(path), backend=backend)
    pooling = Pooling(encoder.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[encoder, pooling], device="cpu")


def onnx_session_options(threads: int) -> Any:
    """ONNX Runtime's options for ``threads`` > 0 (None: its defaults). Its idle threads spin by default, which
    is fastest for a process that owns the machine (indexing) but, with two API workers on two cores, doubled
    each query's time (measured: 14 ms instead of 6 ms per query); a capped pool that sleeps when idle leaves
    the cores to the other workers, DuckDB and the event loop."""
    if threads <= 0:
        return None
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _onnx_sentence_transformer(folder: Path, file_name: str, threads: int = 0) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    model_kwargs: dict[str, Any] = {"file_name": file_name}
    options = onnx_session_options(threads)
    if options is not None:
        model_kwargs["session_options"] = options
    return SentenceTransformer(
        str(folder), device="cpu", local_files_only=True, backend="onnx", model_kwargs=model_kwargs
    )


def onnx_file_name(backend: str) -> str:
    return ONNX_FILE if backend == "onnx" else f"onnx/model_qint8_{quantization_config().name}.onnx"


def int8_config(fp32_onnx: Path) -> QuantizationConfig:
    """optimum's dynamic preset with kb.settings' scheme. Its operator list cannot tell a weight product from the
    attention's product of two activations, so those (no constant input) are excluded by node name, as are the
    last encoder layer's nodes when the scheme keeps that layer in fp32."""
    import onnx
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    scheme = quantization_config()
    graph = onnx.load(str(fp32_onnx), load_external_data=False).graph
    constants = {t.name for t in graph.initializer}
    constants |= {output for n in graph.node if n.op_type == "Constant" for output in n.output}
    layers = [int(found.group(1)) for n in graph.node if (found := re.search(r"/layer\.(\d+)/", n.name))]
    last = f"/layer.{max(layers)}/" if layers and scheme.fp32_last_layer else None
    excluded = [
        n.name
        for n in graph.node
        if n.op_type in scheme.operators
        and (not constants.intersection(n.input) or (last is not None and last in n.name))
    ]
    return getattr(AutoQuantizationConfig, scheme.preset)(
        is_static=False,
        per_channel=scheme.per_channel,
        operators_to_quantize=list(scheme.operators),
        nodes_to_exclude=excluded,
    )


def ensure_onnx_export(model_path: Path, onnx_dir: Path, backend: str) -> tuple[Path, str]:
    """The model exported to ONNX (and its dynamically quantised int8 copy) under ``onnx_dir``, made once.

    Uses the libraries' own path: sentence-transformers' ``backend="onnx"`` export (optimum) and
    ``export_dynamic_quantized_onnx_model``. Several processes may ask at once (API workers): one exports
    under a file lock into a hidden folder and renames it into place; the others wait and reuse it.
    """
    file_name = onnx_file_name(backend)
    if (onnx_dir / file_name).exists():
        return onnx_dir, file_name
    onnx_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(onnx_dir.parent / f".{onnx_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (onnx_dir / file_name).exists():
            return onnx_dir, file_name
        log.info("exporting %s to ONNX (%s) into %s, once", model_path, backend, onnx_dir)
        from sentence_transformers.backend import export_dynamic_quantized_onnx_model

        tmp = onnx_dir.parent / f".{onnx_dir.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with _quiet_export():
            model = _sentence_transformer(model_path, backend="onnx")
            model.save(str(tmp))
            export_dynamic_quantized_onnx_model(
                model, int8_config(tmp / ONNX_FILE), str(tmp), file_suffix=f"qint8_{quantization_config().name}"
            )
        if not (tmp / file_name).exists():
            raise RuntimeError(f"ONNX export did not produce {file_name} in {tmp}")
        if onnx_dir.exists():
            shutil.rmtree(onnx_dir)
        os.replace(tmp, onnx_dir)
        return onnx_dir, file_name


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """The export's advice to save the model (we do) and tracer warnings are not for operators.

    ONNX Runtime's quantizer logs through the module-level ``logging.info``, which gives a root logger without
    handlers a stderr handler (``logging.basicConfig``) for the rest of the process: every library's records
    then reach the console ("DEBUG:bm25s:…", "INFO:dagster.builtin:…"). A handler that drops them, held on the
    root logger for the export's duration, leaves the process's logging as it was."""
    st_logger = logging.getLogger("sentence_transformers")
    level = st_logger.level
    st_logger.setLevel(logging.ERROR)
    placeholder = logging.NullHandler()
    logging.root.addHandler(placeholder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.root.removeHandler(placeholder)
        st_logger.setLevel(level)


class EmbeddingCache:
    """(model id, sha256 of text) → float32 vector, in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, text_hash TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_hash))"
        )
        self._lock = threading.Lock()

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for offset in range(0, len(unique), 500):
                batch = unique[offset : offset + 500]
                placeholders = ",".join("?" * len(batch))
                rows = self._connection.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({placeholders})",
                    [model_id, *batch],
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._lock, self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, vector) VALUES (?, ?, ?)",
                [(model_id, key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items],
            )

    def close(self) -> None:
        self._connection.close()


class Embedder:
    """Embeds passages (cached) and queries (not cached: they are short and many) with one model."""

    def __init__(self, settings: KbSettings, cache: EmbeddingCache | None = None) -> None:
        self.settings = settings
        self.model_id = settings.encoder_id  # the cache key: vectors differ between backends
        self._cache = cache
        self._encode_lock = threading.Lock()
        self.embedded_count = 0  # texts that went through the model (not served by the cache)
        self.cached_count = 0

    @property
    def model(self) -> SentenceTransformer:
        settings = self.settings
        return load_model(settings.model_path, settings.backend, settings.onnx_dir, settings.encoder_threads)

    @property
    def dimension(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; keep working with either name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter() or 0)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._encode_lock:  # one forward pass at a time; torch already uses every core
            vectors = self.model.encode(
                list(texts),
                batch_size=self.settings.embed_batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_passages(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for all texts, in order; only texts missing from the cache go through the model."""
        hashes = [text_hash(text) for text in texts]
        positions = Counter(hashes)  # a text repeated in the corpus is embedded once
        known = self._cache.get_many(self.model_id, list(positions)) if self._cache else {}
        missing = {key: text for key, text in zip(hashes, texts, strict=True) if key not in known}
        done_from_cache = sum(count for key, count in positions.items() if key in known)
        self.cached_count += done_from_cache
        if progress:
            progress(done_from_cache)
        # Length-sorted batches: similar lengths pad less, which is most of the speed on CPU.
        ordered = sorted(missing.items(), key=lambda item: len(item[1]))
        batch = max(1, self.settings.embed_batch_size) * 4
        for offset in range(0, len(ordered), batch):
            part = ordered[offset : offset + batch]
            vectors = self._encode([text for _, text in part])
            new = [(key, vector) for (key, _), vector in zip(part, vectors, strict=True)]
            known.update(new)
            if self._cache:
                self._cache.put_many(self.model_id, new)
            self.embedded_count += len(part)
            if progress:
                progress(sum(positions[key] for key, _ in part))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([known[key] for key in hashes])
