"""The built-in tiny causal LM `xlt-tiny-causal`: written at first use.

A 2-layer Llama-style decoder (grouped-query attention, rotary positions,
tied embeddings) with random weights, and a *fast* byte-level tokenizer built
with the `tokenizers` library: a byte-level BPE without merges, so it needs no
vocabulary file, every UTF-8 byte of every script is one token and decoding
gives back the exact text. It prepends `<s>` like Llama's tokenizers, ends
sequences with `</s>` and pads with its own `<pad>`. Saved with
`save_pretrained` (weights as safetensors) and loaded back through
AutoTokenizer / AutoModelForCausalLM exactly like a hub model; nothing is
downloaded. It learns from scratch, so tests see real learning on a CPU in
seconds.
"""

from __future__ import annotations

from pathlib import Path

from engine.workspace import Workspace

TINY_CAUSAL_NAME = "xlt-tiny-causal"
TINY_CAUSAL_SEED = 2024
# Bump when the tokenizer or architecture below changes: old copies are rewritten.
TINY_CAUSAL_VERSION = "1"
SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<unk>")
_MARKER = "xlt_tiny_causal_version.txt"


def tiny_causal_tokenizer(add_bos: bool = True):
    """The byte-level fast tokenizer (not saved). `add_bos=False` gives the
    GPT-2 / Qwen habit of adding no special token in front."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A",
            pair="<s> $A $B",
            special_tokens=[("<s>", vocab["<s>"])],
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_input_names=["input_ids", "attention_mask"],
        # Byte-level decoding is exact; the "clean-up" would eat spaces in code.
        clean_up_tokenization_spaces=False,
    )


def ensure_tiny_causal_model(folder: Path) -> Path:
    """Write the tiny causal LM into `folder` unless a current copy is there."""
    folder = Path(folder)
    if _is_current(folder):
        return folder
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_causal_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(TINY_CAUSAL_SEED)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)
    tmp = Workspace.partial(folder)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)  # safetensors: the default of every supported version
    tokenizer.save_pretrained(tmp)
    (tmp / _MARKER).write_text(TINY_CAUSAL_VERSION)
    # Written whole under a name of its own, then moved into place: a crash
    # leaves no half model behind, and a current copy another run put there
    # first is kept, not replaced under its reader.
    Workspace.move_into_place(tmp, folder, outdated=lambda f: not _is_current(f))
    return folder


def _is_current(folder: Path) -> bool:
    try:
        return (folder / _MARKER).read_text().strip() == TINY_CAUSAL_VERSION
    except OSError:
        return False
