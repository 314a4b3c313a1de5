"""Shared helpers for the task-kind tests: two tiny models written at run time.

Both are written with `save_pretrained` (weights as safetensors) and load back
through `engine.models.loading.load_tokenizer` / `load_encoder` (the Auto
classes), exactly like a hub model; nothing is downloaded.

- `slow_tiny_model(folder)`: the built-in `xlt-tiny` (2-layer BERT, hidden 128,
  the *slow* byte-level `ByT5Tokenizer`: no offset mapping, no word_ids, no
  [CLS]; every UTF-8 byte is one token).
- `fast_tiny_model(folder)`: a *fast* tokenizer (`PreTrainedTokenizerFast`,
  the `tokenizers` library) shaped like RoBERTa/XLM-R: `<s> A </s></s> B </s>`,
  offset mappings, word_ids and sequence_ids, but with a byte-level BPE that
  has no merges, so it needs no vocabulary file and covers every script (each
  UTF-8 byte is one token; a character's bytes all carry that character's
  offsets). Its encoder is a 2-layer BERT, hidden 64, random weights.

Each function writes its model once per folder and returns the folder; call it
from a module- or session-scoped fixture, e.g.

    @pytest.fixture(scope="module")
    def fast_model(tmp_path_factory):
        return fast_tiny_model(tmp_path_factory.mktemp("models") / "fast")

    tokenizer = load_tokenizer(str(fast_model))
"""

from __future__ import annotations

from pathlib import Path

FAST_SEED = 4321
FAST_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def slow_tiny_model(folder: Path) -> Path:
    """The built-in xlt-tiny (slow ByT5 byte tokenizer) written into `folder`."""
    from engine.models.tiny import ensure_tiny_model

    return ensure_tiny_model(Path(folder))


def fast_tiny_tokenizer():
    """A RoBERTa-like fast byte-level tokenizer (not saved)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    byte_symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(FAST_SPECIAL_TOKENS)}
    for symbol in byte_symbols:
        vocab[symbol] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.RobertaProcessing(
        ("</s>", vocab["</s>"]),
        ("<s>", vocab["<s>"]),
        trim_offsets=True,
        add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_input_names=["input_ids", "attention_mask"],
    )


def fast_tiny_model(folder: Path) -> Path:
    """Write the fast-tokenizer tiny model into `folder` (once) and return it."""
    folder = Path(folder)
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = fast_tiny_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=1024,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(FAST_SEED)
    try:
        model = BertModel(config, add_pooling_layer=False)
    finally:
        torch.random.set_rng_state(state)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
