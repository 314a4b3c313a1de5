"""Featurize a split once, cache it in the workspace, reuse it.

The cache key is a hash of everything that decides the arrays: the task kind
and its featurization version, the tokenizer (its files or hub id), the data
fingerprint, the maximum length, the stride and this module's version. Arrays
are stored with numpy (no pickle).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.data.features import Features
from engine.workspace import Workspace

TOKENIZE_VERSION = "2"


def tokenizer_fingerprint(tokenizer) -> str:
    """Identity of a tokenizer: hash of its files when local, else its hub id."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    folder = Path(getattr(tokenizer, "name_or_path", "") or "")
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.is_file() and ("token" in f.name or f.suffix in (".model", ".txt")):
                digest.update(f.name.encode())
                digest.update(f.read_bytes())
    else:
        digest.update(str(folder).encode())
    digest.update(str(len(tokenizer)).encode())
    return digest.hexdigest()[:16]


def cached_features(
    kind,
    tokenizer,
    task,
    records_fn: Callable[[], list[dict]],
    data_fingerprint: str,
    max_length: int,
    cache_root: Path | None,
    stride: int = 128,
):
    """Features from the cache, or featurize `records_fn()` and cache them."""
    key = hashlib.sha256(
        json.dumps(
            [
                TOKENIZE_VERSION,
                kind.name,
                kind.version,
                tokenizer_fingerprint(tokenizer),
                data_fingerprint,
                max_length,
                stride,
                list(task.labels),
            ]
        ).encode()
    ).hexdigest()[:20]
    path = cache_root / key / "features.npz" if cache_root else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return Features.from_arrays({k: z[k] for k in z.files})
    features = kind.featurize(tokenizer, records_fn(), task, max_length, stride)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Workspace.partial(path)
        with open(tmp, "wb") as fh:  # (np.savez would add .npz to the name)
            np.savez(fh, **features.to_arrays())
        tmp.replace(path)  # whole or absent
    return features
