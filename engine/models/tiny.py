"""The built-in tiny model `xlt-tiny`: written to the workspace at first use.

A 2-layer BERT-style encoder with random weights and a byte-level tokenizer
(ByT5's: no vocabulary file, every script covered), saved with
`save_pretrained` and loaded back through the Auto classes exactly like a hub
model. Small enough to train on a laptop CPU in seconds; it learns from
scratch, so it shows real learning without any download.
"""

from __future__ import annotations

from pathlib import Path

from engine.workspace import Workspace

TINY_NAME = "xlt-tiny"
TINY_SEED = 1234
# Bump when the architecture below changes, so old copies are rewritten.
TINY_VERSION = "1"
_MARKER = "xlt_tiny_version.txt"


def ensure_tiny_model(folder: Path) -> Path:
    """Write the tiny model into `folder` unless a current copy is there."""
    if _is_current(folder):
        return folder
    import torch
    from transformers import BertConfig, BertModel, ByT5Tokenizer

    tmp = Workspace.partial(folder)
    tokenizer = ByT5Tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(TINY_SEED)
    try:
        model = BertModel(config, add_pooling_layer=False)
    finally:
        torch.random.set_rng_state(generator_state)
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / _MARKER).write_text(TINY_VERSION)
    # Written whole under a name of its own (runs starting side by side each
    # write one), then moved into place: a crash leaves no half model behind,
    # and a current copy another run put there first is kept, not replaced
    # under its reader.
    Workspace.move_into_place(tmp, folder, outdated=lambda f: not _is_current(f))
    return folder


def _is_current(folder: Path) -> bool:
    marker = folder / _MARKER
    try:
        return marker.read_text().strip() == TINY_VERSION
    except OSError:
        return False
