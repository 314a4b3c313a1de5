"""The mlm kind: BERT masking drawn from the stage's seed, the checkpoint's LM
head (a fresh one tied to the embeddings on xlt-tiny), and MLM as an
intermediate choice alone and beside a classification task, whose checkpoint
then serves a target stage."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.local_files import read_records
from engine.kinds import load_kind
from engine.models.families import model_family
from engine.models.loading import load_encoder, load_tokenizer
from engine.models.tiny import ensure_tiny_model
from engine.tasks.spec import LocalSource, TaskSpec
from tests.conftest import REPO, run_engine, write_sentiment_files

MLM_DATA = REPO / "tests" / "fixtures" / "local" / "mlm"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(ensure_tiny_model(tmp_path_factory.mktemp("tiny") / "xlt-tiny"))


def _features(tiny: str, max_length: int = 32):
    tokenizer = load_tokenizer(tiny)
    records = [r for _, r in read_records(MLM_DATA / "wiki.de.txt")]
    return tokenizer, load_kind("mlm").featurize(
        tokenizer, records, None, max_length, 0
    )


def _masks(features, seed: int | None) -> dict[str, torch.Tensor]:
    units = np.arange(len(features))
    kind = load_kind("mlm")
    if seed is None:  # evaluation: no gradient
        with torch.no_grad():
            return kind.collate(features, units, 0, 1)
    torch.manual_seed(seed)  # what train_stage does with the stage's seed
    return kind.collate(features, units, 0, 1)


def test_masks_follow_the_stage_seed_and_bert_proportions(tiny):
    tokenizer, features = _features(tiny)
    first, again, other = _masks(features, 1), _masks(features, 1), _masks(features, 2)
    assert torch.equal(first["input_ids"], again["input_ids"])
    assert torch.equal(first["mlm_labels"], again["mlm_labels"])
    assert not torch.equal(first["mlm_labels"], other["mlm_labels"])

    # Evaluation masks are fixed per unit, whatever the global generator holds.
    torch.manual_seed(7)
    eval_a = _masks(features, None)
    torch.manual_seed(8)
    eval_b = _masks(features, None)
    assert torch.equal(eval_a["mlm_labels"], eval_b["mlm_labels"])

    # Over many draws: 15% of real tokens chosen; of those 80% become the mask
    # token, 10% another token, 10% stay; specials and padding never chosen.
    chosen = masked = kept = real = 0
    mask_id = tokenizer.convert_tokens_to_ids("<extra_id_0>")  # ByT5: no [MASK]
    plain = load_kind("mlm").collate
    for seed in range(40):
        torch.manual_seed(seed)
        batch = plain(features, np.arange(len(features)), 0, 1)
        original = torch.from_numpy(
            np.stack([_row(features, u, batch) for u in range(len(features))])
        )
        labels = batch["mlm_labels"]
        picked = labels != -100
        special = original == tokenizer.eos_token_id
        assert not (picked & special).any()
        assert not (picked & (batch["attention_mask"] == 0)).any()
        assert torch.equal(labels[picked], original[picked])
        real += int(((batch["attention_mask"] == 1) & ~special).sum())
        chosen += int(picked.sum())
        masked += int((batch["input_ids"][picked] == mask_id).sum())
        kept += int((batch["input_ids"][picked] == original[picked]).sum())
    assert 0.13 < chosen / real < 0.19
    assert 0.75 < masked / chosen < 0.85
    assert 0.07 < kept / chosen < 0.14


def _row(features, unit: int, batch) -> np.ndarray:
    start, end = features.offsets[unit], features.offsets[unit + 1]
    out = np.zeros(batch["input_ids"].shape[1], dtype=np.int64)
    out[: end - start] = features.flat_ids[start:end]
    return out


def test_long_lines_become_several_windows_and_count_once(tiny):
    tokenizer, features = _features(tiny, max_length=24)
    assert int(features.row_lengths.max()) <= 24
    assert len(np.unique(features.unit_arrays["record_index"])) == 10  # lines
    assert len(features) > 10  # byte-level: most lines need two windows


def test_lm_head_is_tied_to_the_embeddings_and_saves_as_an_encoder(tiny, tmp_path):
    """xlt-tiny has no LM head: a fresh one whose output layer is the input
    embedding matrix; the saved checkpoint loads back as a plain encoder."""
    task = TaskSpec("wiki", "mlm", (), ("de",), LocalSource({}))
    family = model_family("encoder")
    tokenizer = load_tokenizer(tiny)
    model = family.training_model(tiny, tokenizer, [(task, load_kind("mlm"))], 1)
    head = model.heads["wiki"].lm_head
    embeddings = model.encoder.get_input_embeddings().weight
    assert head.predictions.decoder.weight is embeddings
    with torch.no_grad():
        embeddings.add_(0.5)  # "training" changed the shared matrix
    family.save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    reloaded = load_encoder(str(tmp_path / "ckpt"))
    assert torch.equal(reloaded.get_input_embeddings().weight, embeddings)


CONFIG = """\
name = "mlm"
model = "xlt-tiny"
intermediate = ["wiki", "wiki-and-sent"]
targets = ["sent"]
seeds = [1]

[groups.wiki-and-sent]
tasks = ["wiki", "sent"]

[train]
learning_rate = 1e-3
max_steps = 6
eval_every = 3
batch_size = 8
max_seq_length = 48
log_every = 1

[tasks.wiki]
kind = "mlm"
[tasks.wiki.files]
train = {{ de = "{data}/wiki.de.txt", fr = "{data}/wiki.fr.txt" }}
validation = "{data}/wiki.validation.txt"

[tasks.sent]
kind = "classification"
labels = ["negative", "positive"]
[tasks.sent.files]
train = "data/train.jsonl"
validation = "data/dev.jsonl"
test = {{ en = "data/test.en.jsonl", de = "data/test.de.jsonl" }}
"""


@pytest.mark.slow
def test_mlm_alone_and_in_a_group_then_serves_a_target(tmp_path):
    write_sentiment_files(tmp_path / "data", n_train=96, n_eval=24)
    config = tmp_path / "mlm.toml"
    config.write_text(textwrap.dedent(CONFIG.format(data=MLM_DATA)), encoding="utf-8")
    ws = tmp_path / "ws"
    done = run_engine("run", str(config), "--workspace", str(ws))
    assert done.returncode == 0, done.stderr[-3000:]

    events = [
        json.loads(line)
        for run in (ws / "runs").iterdir()
        for line in (run / "events.jsonl").read_text().splitlines()
    ]
    alone = [e for e in events if e.get("stage") == "intermediate/wiki/seed1"]
    losses = [e["loss"] for e in alone if e["type"] == "step"]
    assert losses[-1] < losses[0]  # it learns from de + fr text
    for stage in ("intermediate/wiki/seed1", "intermediate/wiki-and-sent/seed1"):
        evals = [
            e
            for e in events
            if e.get("stage") == stage and e["type"] == "eval" and e["task"] == "wiki"
        ]
        assert [e["metric"] for e in evals] == ["masked_accuracy"] * 2
        assert all(0.0 <= e["value"] <= 1.0 for e in evals)
    group_tasks = {
        e["task"]
        for e in events
        if e.get("stage") == "intermediate/wiki-and-sent/seed1" and e["type"] == "eval"
    }
    assert group_tasks == {"wiki", "sent"}

    # Each checkpoint served its target: scores in both languages, from it.
    results = [
        json.loads(line)
        for line in (ws / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    served = {(r["intermediate"], r["language"]) for r in results}
    for choice in ("wiki", "wiki-and-sent"):
        assert {(choice, "en"), (choice, "de")} <= served
    checkpoints = [
        Path(e["path"])
        for e in events
        if e["type"] == "checkpoint" and e["stage"].startswith("intermediate/")
    ]
    assert len(checkpoints) == 2
    for folder in checkpoints:
        saved = json.loads((folder / "config.json").read_text())
        assert saved["architectures"] == ["BertModel"]  # the encoder alone


def test_mlm_row_reads_text_lines_and_skips_blank_ones():
    rows = list(read_records(MLM_DATA / "wiki.de.txt"))
    assert len(rows) == 10  # 11 lines, one blank
    assert rows[8][0] == 10  # line numbers count the blank line
    assert rows[0][1]["text"].startswith("Berlin")


def test_unknown_suffix_lists_txt(tmp_path: Path):
    bad = tmp_path / "x.xml"
    bad.write_text("<a/>")
    from engine.errors import InputError

    with pytest.raises(InputError, match=r"\.txt"):
        list(read_records(bad))


TARGET = """\
name = "mlm-target"
model = "xlt-tiny"
targets = ["wiki"]
seeds = [1]
[train]
max_steps = 2
eval_every = 1
batch_size = 8
max_seq_length = 48
[tasks.wiki]
kind = "mlm"
[tasks.wiki.files]
train = {{ de = "{data}/wiki.de.txt" }}
validation = "{data}/wiki.validation.txt"
test = {{ de = "{data}/wiki.de.txt", fr = "{data}/wiki.fr.txt" }}
"""


def test_mlm_as_a_target_scores_every_language(tmp_path):
    """Masked-token accuracy per language, and the trained target model (its
    LM head's tied weights included) saved for reuse."""
    config = tmp_path / "target.toml"
    config.write_text(TARGET.format(data=MLM_DATA), encoding="utf-8")
    done = run_engine("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = [
        json.loads(line)
        for line in (tmp_path / "ws" / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert {(r["language"], r["metric"]) for r in results} == {
        ("de", "masked_accuracy"),
        ("fr", "masked_accuracy"),
    }
    assert all("perplexity" in r["metrics"] for r in results)
    assert all(r["n_examples"] == 10 for r in results)  # lines, not windows
