"""Task kinds by name. Heavy (torch): imported by the runner only."""

from __future__ import annotations

from engine.kinds.base import Features, Kind
from engine.kinds.classification import ClassificationKind
from engine.kinds.code_generation import CodeGenerationKind
from engine.kinds.multiple_choice import MultipleChoiceKind
from engine.kinds.retrieval import RetrievalKind
from engine.kinds.span_qa import SpanQAKind
from engine.kinds.tagging import TaggingKind

KINDS: dict[str, Kind] = {
    "classification": ClassificationKind("classification"),
    "pair_classification": ClassificationKind("pair_classification"),
    "span_qa": SpanQAKind(),
    "multiple_choice": MultipleChoiceKind(),
    "tagging": TaggingKind(),
    "retrieval": RetrievalKind(),
    "code_generation": CodeGenerationKind(),
}


def get_kind(name: str) -> Kind:
    return KINDS[name]


__all__ = ["KINDS", "Features", "Kind", "get_kind"]
