"""The offline numpy MiniLM: right numbers, unit vectors, meaning, determinism, chromadb wiring."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from quantai_tui.ai.embedding import DIM, MODEL_NAME, embed, get_model, read_safetensors

# Reference values computed by other implementations of all-MiniLM-L6-v2 (not by this code):
# - FastEmbed's canonical vector (ONNX runtime) for "hello world", first five dimensions;
# - the cosine similarities printed in sentence-transformers' README (PyTorch) for three sentences.
HELLO_WORLD_HEAD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]
README_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
README_SIMILARITY = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]


def test_matches_fastembed_reference_vector() -> None:
    vec = embed(["hello world", "flag embedding"])[0]
    assert np.allclose(vec[:5], HELLO_WORLD_HEAD, atol=2e-5)


def test_matches_sentence_transformers_readme_similarities() -> None:
    e = embed(README_SENTENCES)
    assert np.allclose(e @ e.T, README_SIMILARITY, atol=1e-4)


def test_shape_dtype_and_unit_norm() -> None:
    texts = ["BTC/USDT", "", "a much longer sentence about funding rates on perpetual futures " * 3]
    e = embed(texts)
    assert e.shape == (3, DIM) == (3, 384) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, 384)


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    a, b, c, d = embed([
        "The funding rate on the perpetual swap turned negative.",
        "Perpetual futures funding went below zero.",
        "My grandmother bakes apple pie on Sundays.",
        "Set a stop-loss below the recent swing low.",
    ])  # fmt: skip
    assert a @ b > 0.6
    assert a @ b > a @ c + 0.4
    assert a @ b > a @ d
    assert a @ d > a @ c  # trading text is nearer trading text than baking


def test_deterministic_and_independent_of_batch_companions() -> None:
    text = "Mean reversion buys the dip below the lower Bollinger band."
    alone = embed([text])[0]
    again = embed([text])[0]
    assert np.array_equal(alone, again)
    # In a batch with longer texts it is padded; the attention mask must make that invisible.
    batch = embed(["short", text, "a long text about order books and spreads " * 20, "x"])
    assert np.abs(batch[1] - alone).max() < 1e-5


def test_long_texts_are_truncated_at_256_tokens_not_earlier() -> None:
    model = get_model()
    words = " ".join(f"token{i}" for i in range(400))
    n = len(model._tok.encode(words).ids)
    assert n == 256  # truncation to sentence-transformers' max_seq_length
    base = ["alpha"] * 300
    late, early = list(base), list(base)
    late[290] = "volatility"  # beyond token 256: cannot change the vector
    early[200] = "volatility"  # beyond 128 (the tokenizer.json default) but within 256: must change it
    e_base, e_late, e_early = embed([" ".join(base), " ".join(late), " ".join(early)])
    assert np.abs(e_base - e_late).max() < 1e-6
    assert np.abs(e_base - e_early).max() > 1e-3


def test_model_is_loaded_once_and_shared_between_threads() -> None:
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(get_model())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1 and seen[0] is get_model()


def test_safetensors_reader_parses_header_and_little_endian_data(tmp_path: Path) -> None:
    a = np.arange(6, dtype="<f4").reshape(2, 3) / 7
    b = np.array([[-1, 2**40]], dtype="<i8")
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [1, 2], "data_offsets": [24, 40]}}  # fmt: skip
    raw = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    t = read_safetensors(path)
    assert set(t) == {"a", "b"}
    assert np.array_equal(t["a"], a) and np.array_equal(t["b"], b)


def test_chromadb_embedding_function_is_registered_and_rebuildable() -> None:
    from chromadb.utils.embedding_functions import known_embedding_functions

    from quantai_tui.ai.embedding import MiniLMEmbeddingFunction

    ef = MiniLMEmbeddingFunction()
    assert known_embedding_functions[MiniLMEmbeddingFunction.name()] is MiniLMEmbeddingFunction
    assert ef.get_config()["model"] == MODEL_NAME and ef.default_space() == "cosine"
    rebuilt = MiniLMEmbeddingFunction.build_from_config(ef.get_config())
    assert isinstance(rebuilt, MiniLMEmbeddingFunction) and not ef.is_legacy()
    out = ef(["hello world"])
    assert len(out) == 1 and len(out[0]) == DIM
    assert np.allclose(out[0][:5], HELLO_WORLD_HEAD, atol=2e-5)
    with pytest.raises(ValueError):
        MiniLMEmbeddingFunction.build_from_config({"model": "some-other-model"})


def test_a_blas_thread_limit_changes_nothing_but_speed() -> None:
    from quantai_tui.ai import embedding

    texts = ["order book imbalance", "funding rate " * 40]
    assert np.abs(embed(texts, threads=1) - embed(texts)).max() < 1e-5
    setter = embedding._local_threads_setter()
    if setter is not None:  # numpy's OpenBLAS here has the per-thread limit: check it is restored
        before = setter(3)
        with embedding._blas_threads(1):
            assert setter(1) == 1
        assert setter(before) == 3
