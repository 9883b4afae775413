"""chromadb embedding function over the offline numpy MiniLM (imports chromadb: load lazily).

Registered by name so that a collection reopened by a fresh client rebuilds this function
from its stored config instead of falling back to chromadb's default, which downloads a model.
Reach it as `quantai_tui.ai.embedding.MiniLMEmbeddingFunction`.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from quantai_tui.ai.embedding import DIM, MAX_TOKENS, MODEL_NAME, get_model

EF_NAME = "quantai-minilm-l6-v2-numpy"


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (384-d, cosine) run with numpy; the model loads on the first call."""

    def __init__(self) -> None:
        # Nothing heavy here: chromadb builds instances just to compare configs.
        pass

    def __call__(self, input: Documents) -> Embeddings:
        vectors = get_model().embed(list(input))
        return [row for row in vectors]

    @staticmethod
    def name() -> str:
        return EF_NAME

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        MiniLMEmbeddingFunction.validate_config(config)
        return MiniLMEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "dim": DIM, "max_tokens": MAX_TOKENS}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        model = config.get("model", MODEL_NAME)
        if model != MODEL_NAME:
            raise ValueError(f"collection was embedded with {model!r}, not {MODEL_NAME!r}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        # Changing the model would silently mix incompatible vectors in one collection.
        if old_config.get("model") != new_config.get("model"):
            raise ValueError("the embedding model of an existing collection cannot be changed")

    def __repr__(self) -> str:
        return f"MiniLMEmbeddingFunction(model={MODEL_NAME!r}, dim={DIM})"
