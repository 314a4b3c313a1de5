"""Task kinds by name. Heavy (torch): imported by the runner only."""

from __future__ import annotations

from engine.kinds.base import Features, Kind
from engine.kinds.classification import ClassificationKind
from engine.kinds.retrieval import RetrievalKind

KINDS: dict[str, Kind] = {
    "classification": ClassificationKind("classification"),
    "pair_classification": ClassificationKind("pair_classification"),
    "retrieval": RetrievalKind(),
}


def get_kind(name: str) -> Kind:
    return KINDS[name]


__all__ = ["KINDS", "Features", "Kind", "get_kind"]
