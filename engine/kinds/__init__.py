"""Task kinds: how each kind's records become features, which head reads the
encoder, the loss, the scoring, and how its targets are run.

This package's __init__ is light: `load_kind(name)` imports a kind's module
(heavy: torch) when a run needs it. The facts light code needs about a kind
(family, target mode, metrics, row formats) are engine.tasks.kinds.KINDS.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from engine.tasks.kinds import KINDS

if TYPE_CHECKING:
    from engine.kinds.base import Kind


def load_kind(name: str) -> Kind:
    """The Kind object of a task kind (imports its module)."""
    module, _, attribute = KINDS[name].implementation.partition(":")
    return getattr(importlib.import_module(module), attribute)


__all__ = ["load_kind"]
