"""Tokenize a split once, cache it in the workspace, reuse it.

The cache key is a hash of everything that decides the token ids: the
tokenizer (its files or hub id), the data fingerprint, the maximum length and
this module's version. Arrays are stored with numpy (no pickle).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.examples import Example

TOKENIZE_VERSION = "1"
_CHUNK = 1000


@dataclass
class TokenizedSplit:
    """Token ids per example (ragged, as offsets into one flat array) and labels."""

    flat_ids: np.ndarray
    offsets: np.ndarray  # len = n + 1
    labels: np.ndarray
    flat_type_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def ids(self, i: int) -> np.ndarray:
        return self.flat_ids[self.offsets[i] : self.offsets[i + 1]]

    def type_ids(self, i: int) -> np.ndarray | None:
        if self.flat_type_ids is None:
            return None
        return self.flat_type_ids[self.offsets[i] : self.offsets[i + 1]]

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


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


def tokenize_examples(
    tokenizer, examples: list[Example], max_length: int
) -> TokenizedSplit:
    ids: list[list[int]] = []
    type_ids: list[list[int]] | None = []
    for start in range(0, len(examples), _CHUNK):
        chunk = examples[start : start + _CHUNK]
        columns = list(zip(*(ex.texts for ex in chunk), strict=True))
        enc = tokenizer(
            list(columns[0]),
            list(columns[1]) if len(columns) > 1 else None,
            truncation=True,
            max_length=max_length,
        )
        ids.extend(enc["input_ids"])
        if "token_type_ids" in enc and type_ids is not None:
            type_ids.extend(enc["token_type_ids"])
        else:
            type_ids = None
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter(
        (t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1])
    )
    flat_types = None
    if type_ids:
        flat_types = np.fromiter(
            (t for x in type_ids for t in x), dtype=np.int8, count=int(offsets[-1])
        )
    labels = np.array([ex.label for ex in examples], dtype=np.int64)
    return TokenizedSplit(flat, offsets, labels, flat_types)


def cached_tokenize(
    tokenizer,
    examples_fn,
    data_fingerprint: str,
    max_length: int,
    cache_root: Path | None,
) -> TokenizedSplit:
    """Tokenized split from the cache, or tokenize `examples_fn()` and cache it."""
    key = hashlib.sha256(
        json.dumps(
            [
                TOKENIZE_VERSION,
                tokenizer_fingerprint(tokenizer),
                data_fingerprint,
                max_length,
            ]
        ).encode()
    ).hexdigest()[:20]
    path = cache_root / key / "tokens.npz" if cache_root else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return TokenizedSplit(
                z["flat_ids"],
                z["offsets"],
                z["labels"],
                z["flat_type_ids"] if "flat_type_ids" in z else None,
            )
    split = tokenize_examples(tokenizer, examples_fn(), max_length)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "flat_ids": split.flat_ids,
            "offsets": split.offsets,
            "labels": split.labels,
        }
        if split.flat_type_ids is not None:
            arrays["flat_type_ids"] = split.flat_type_ids
        tmp = path.with_name(".tokens.partial.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # whole or absent
    return split
