"""Hostile models and configs: remote code, names that would leave the
workspace, values that validate but cannot run, a diverging loss, and damaged
model folders. Each is refused with one message (exit 2, nothing written) or,
for a loss that becomes NaN, fails the stage instead of storing its scores."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.config import StageHparams, load_config
from engine.errors import InputError, TrainingDiverged
from engine.events import EventWriter
from tests.conftest import run_engine
from tests.test_bad_input import assert_rejected, edit

# -- names that become paths ---------------------------------------------------


@pytest.mark.parametrize("bad", ["/tmp/x", "../../x", "..", "a/b"])
def test_a_test_language_key_that_is_a_path_is_refused(experiment, bad):
    cfg = experiment()
    edit(cfg, 'en = "data/test.en.jsonl"', f'"{bad}" = "data/test.en.jsonl"')
    with pytest.raises(InputError) as err:
        load_config(cfg)
    message = str(err.value)
    assert f"{cfg}:" in message
    assert "tasks.sent.files.test" in message
    assert f"{bad!r} cannot be used as a name" in message
    assert "no '/' and no '..'" in message


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("[tasks.sent]", '[tasks.sent]\ntrain_language = "../en"', "train_language"),
        ("[tasks.sent]", '[tasks.sent]\nlanguages = ["/etc"]', "languages"),
        (
            "seeds = [1]",
            'seeds = [1]\n[groups."../g"]\ntasks = ["sent", "sent2"]',
            "groups",
        ),
    ],
)
def test_other_names_that_become_paths_are_refused(experiment, old, new, key):
    cfg = experiment()
    edit(cfg, old, new)
    with pytest.raises(InputError, match="cannot be used as a name") as err:
        load_config(cfg)
    assert key in str(err.value)


def test_custom_task_named_like_a_path_is_refused_by_the_cli(
    experiment, workspace, tmp_path
):
    cfg = experiment()
    text = cfg.read_text().replace("[tasks.sent", '[tasks."../../x"')
    cfg.write_text(text.replace('"sent"', '"../../x"'))
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(
        result, "tasks.../../x", "cannot be used as a name", workspace=workspace
    )
    assert not (tmp_path.parent / "x").exists()


# -- values that validate but cannot run -----------------------------------------


@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ("epochs = 3", "epochs = inf", "train.intermediate.epochs: expected a number"),
        (
            "epochs = 3",
            "epochs = 1e300",
            "epochs: expected a number <= 10000, got 1e+300",
        ),
        ("learning_rate = 1e-3", "learning_rate = inf", "learning_rate"),
        (
            "log_every = 2",
            "log_every = 2\nmax_steps = 9223372036854775807",
            "max_steps: expected an integer <= 100000000 (0 = use epochs)",
        ),
        (
            "log_every = 2",
            "log_every = 2\ngrad_accum = 1000000000",
            "grad_accum: expected an integer <= 65536, got 1000000000",
        ),
        ("log_every = 2", "log_every = 2\ngrad_accum = 1e9", "grad_accum"),
        (
            "seeds = [1]",
            "seeds = [-1]",
            "seeds: expected a list of integers, each an integer in [0, 4294967295]",
        ),
    ],
)
def test_values_that_cannot_run_are_refused(experiment, old, new, fragment):
    cfg = experiment()
    edit(cfg, old, new)
    with pytest.raises(InputError) as err:
        load_config(cfg)
    assert fragment in str(err.value)
    assert f"{cfg}:" in str(err.value)  # with the line


def test_huge_max_steps_is_refused_by_the_cli(experiment, workspace):
    cfg = experiment()
    edit(cfg, "log_every = 2", "log_every = 2\nmax_steps = 9223372036854775807")
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(result, "max_steps", "100000000", workspace=workspace)


# -- max_seq_length beyond the model's positions --------------------------------


def roberta_like_folder(folder: Path) -> Path:
    """config.json as XLM-R's: 514 position embeddings, padding index 1."""
    folder.mkdir()
    config = {"model_type": "xlm-roberta", "max_position_embeddings": 514}
    (folder / "config.json").write_text(json.dumps({**config, "pad_token_id": 1}))
    return folder


def test_max_seq_length_beyond_the_models_positions_is_refused(
    experiment, workspace, tmp_path
):
    model = roberta_like_folder(tmp_path / "xlmr")
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"')
    edit(cfg, "max_seq_length = 64", "max_seq_length = 513")
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(
        result,
        f"{cfg}:",
        "max_seq_length",
        "<= 512",
        "padding offset 2",
        workspace=workspace,
    )


def test_max_seq_length_at_the_limit_passes(experiment, workspace, tmp_path):
    model = roberta_like_folder(tmp_path / "xlmr")
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"')
    edit(cfg, "max_seq_length = 64", "max_seq_length = 512")
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert result.returncode == 0, result.stderr


def test_per_task_max_seq_length_is_checked_and_named(tmp_path, workspace):
    from engine.config.model_files import check_max_seq_length

    model = roberta_like_folder(tmp_path / "xlmr")
    cfg = tmp_path / "exp.toml"
    cfg.write_text(
        f'model = "{model}"\ntargets = ["xnli"]\n'
        "[train.tasks.xnli]\nmax_seq_length = 1024\n"
    )
    config = load_config(cfg)
    with pytest.raises(InputError) as err:
        check_max_seq_length(config, config.model)
    assert f"{cfg}:4: train.tasks.xnli.max_seq_length" in str(err.value)


# -- remote code ---------------------------------------------------------------------


def folder_with_code(folder: Path, file: str = "config.json") -> Path:
    folder.mkdir()
    config: dict = {"model_type": "bert", "max_position_embeddings": 512}
    code = {"AutoModel": "modeling_evil.EvilModel"}
    if file == "config.json":
        config["auto_map"] = code
    else:
        (folder / file).write_text(json.dumps({"auto_map": code}))
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    return folder


@pytest.mark.parametrize("file", ["config.json", "tokenizer_config.json"])
def test_model_with_its_own_code_is_refused(experiment, workspace, tmp_path, file):
    model = folder_with_code(tmp_path / "custom", file)
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(
        result,
        f"{cfg}:2: model",
        f"{file} auto_map",
        "modeling_evil.EvilModel",
        "trust_remote_code = true",
        workspace=workspace,
    )


def test_trust_remote_code_is_off_by_default_and_recorded_when_on(experiment, tmp_path):
    from engine.config import parse_config

    model = folder_with_code(tmp_path / "custom")
    cfg = experiment()
    assert load_config(cfg).trust_remote_code is False
    assert "trust_remote_code" not in load_config(cfg).to_toml_dict()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"\ntrust_remote_code = true')
    config = load_config(cfg)
    assert config.trust_remote_code is True
    written = config.to_toml_dict()
    assert written["trust_remote_code"] is True
    assert parse_config(written, source=cfg) == config


def test_loaders_refuse_remote_code_unless_allowed(tmp_path):
    from engine.models import loading

    model = str(folder_with_code(tmp_path / "custom"))
    (Path(model) / "model.safetensors").write_bytes(b"")
    loading.allow_remote_code(False)
    for load in (loading.load_tokenizer, loading.load_encoder):
        with pytest.raises(InputError, match="trust_remote_code = true"):
            load(model)


def test_every_from_pretrained_gets_trust_remote_code(monkeypatch, tmp_path):
    """transformers prompts (or times out) when trust_remote_code is left
    out; every loader passes it, with the run's value."""
    import transformers

    from engine.models import causal, loading, masked_lm

    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(b"")
    seen: list = []

    def fake(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code", "missing"))
        raise OSError("stop here")

    for auto in ("AutoTokenizer", "AutoModel", "AutoModelForCausalLM"):
        monkeypatch.setattr(getattr(transformers, auto), "from_pretrained", fake)
    monkeypatch.setattr(transformers.AutoModelForMaskedLM, "from_pretrained", fake)
    for allowed in (False, True):
        loading.allow_remote_code(allowed)
        for load in (
            loading.load_tokenizer,
            loading.load_encoder,
            causal.load_causal_lm,
            masked_lm.load_masked_lm,
        ):
            with pytest.raises(InputError):
                load(str(folder))
    loading.allow_remote_code(False)
    assert seen == [False] * 4 + [True] * 4


# -- the hub cache ---------------------------------------------------------------


def cached_hub_model(cache: Path, repo: str, files: dict[str, bytes]) -> Path:
    """A model in the hub cache's layout (huggingface_hub's file_download)."""
    root = cache / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("a" * 40)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def test_hub_cache_with_pickled_weights_only_is_refused(monkeypatch, tmp_path):
    import huggingface_hub.constants

    from engine.models.loading import load_encoder

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    config = b'{"model_type": "bert"}'
    cached_hub_model(
        tmp_path, "acme/pickled", {"config.json": config, "pytorch_model.bin": b"\0"}
    )
    with pytest.raises(InputError) as err:
        load_encoder("acme/pickled")
    assert "hub model 'acme/pickled'" in str(err.value)
    assert "no .safetensors weights (it holds pytorch_model.bin)" in str(err.value)


def test_hub_cache_model_with_code_is_refused(monkeypatch, tmp_path):
    import huggingface_hub.constants

    from engine.models.loading import allow_remote_code, load_tokenizer

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    config = {"model_type": "bert", "auto_map": {"AutoModel": "m.M"}}
    cached_hub_model(
        tmp_path,
        "acme/coded",
        {"config.json": json.dumps(config).encode(), "model.safetensors": b""},
    )
    allow_remote_code(False)
    with pytest.raises(InputError, match="auto_map: AutoModel -> m.M"):
        load_tokenizer("acme/coded")


# -- damaged model folders and config paths ------------------------------------------


def test_broken_tokenizer_config_is_refused_with_file_and_line(
    experiment, workspace, tmp_path
):
    model = tmp_path / "broken"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "tokenizer_config.json").write_text('{\n  "model_max_length": ,\n}')
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(
        result,
        f"{model / 'tokenizer_config.json'}:2",
        "not valid JSON",
        workspace=workspace,
    )


def test_model_folder_without_weights_writes_no_run(experiment, workspace, tmp_path):
    model = tmp_path / "no-weights"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', f'model = "{model}"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, "no .safetensors weights", workspace=workspace)


def test_typo_of_a_builtin_model_is_refused_at_once(experiment, workspace):
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', 'model = "xlt-tiyn"')
    started = time.monotonic()
    result = run_engine("run", str(cfg), "--workspace", str(workspace), "--dry-run")
    assert_rejected(
        result,
        "model",
        "unknown model 'xlt-tiyn'",
        "did you mean 'xlt-tiny'",
        workspace=workspace,
    )
    assert time.monotonic() - started < 30  # no hub retries


@pytest.mark.parametrize("target", ["folder", "/dev/zero"])
def test_config_that_is_no_regular_file(target, workspace, tmp_path):
    path = str(tmp_path) if target == "folder" else target
    (tmp_path / "exp.toml").write_text("")
    result = run_engine("run", path, "--workspace", str(workspace), timeout=60)
    expected = "is a directory" if target == "folder" else "not a regular file"
    assert_rejected(result, path, expected, workspace=workspace)


# -- data files ---------------------------------------------------------------------


def test_csv_with_a_byte_order_mark_is_read(tmp_path):
    from engine.data.local_files import read_records

    path = tmp_path / "train.csv"
    path.write_bytes("text,label\nthe film was great,positive\n".encode("utf-8-sig"))
    rows = [row for _, row in read_records(path)]
    assert rows == [{"text": "the film was great", "label": "positive"}]
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_bytes('{"text": "x", "label": "positive"}\n'.encode("utf-8-sig"))
    assert [row for _, row in read_records(jsonl)] == [
        {"text": "x", "label": "positive"}
    ]


# -- a loss that becomes NaN, and strict JSON events --------------------------


class ToyKind:
    """A kind whose loss is the model's output: the loop as it runs any kind."""

    def collate(self, features, units, pad_id, multiple):
        return {"x": torch.ones(len(units), 1)}

    def loss(self, outputs, batch):
        return outputs


class ToyModel(torch.nn.Module):
    """Its loss turns NaN from the `nan_from`-th forward pass on."""

    def __init__(self, nan_from: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.calls, self.nan_from = 0, nan_from

    def forward(self, task, batch):
        self.calls += 1
        loss = (self.weight * batch["x"]).mean() ** 2
        return loss * math.nan if self.calls >= self.nan_from else loss


def train_toy(nan_from: int, **hp):
    from engine.data.features import Features
    from engine.train import Runtime, TrainTask, train_stage

    n = 8
    features = Features(np.zeros(n * 4, dtype=np.int64), np.arange(0, n * 4 + 1, 4))
    task = TrainTask(
        SimpleNamespace(name="toy", train_language="en"), ToyKind(), features
    )
    events: list[tuple[str, dict]] = []
    result = train_stage(
        ToyModel(nan_from),
        task,
        StageHparams(batch_size=2, **hp),
        Runtime(torch.device("cpu")),
        seed=0,
        pad_id=0,
        emit=lambda type, **f: events.append((type, f)),
    )
    return result, events


def test_a_nan_loss_fails_the_stage():
    with pytest.raises(TrainingDiverged) as err:
        train_toy(nan_from=7, max_steps=10, log_every=5)
    # Found at the next step event (step 10), not at a sync of its own.
    assert "the loss of toy became nan by step 10 of 10" in str(err.value)
    assert "lower the learning rate" in str(err.value)


def test_a_nan_loss_after_the_last_step_event_is_found_at_the_end():
    # log_every beyond the last step: the stage's last step still checks.
    with pytest.raises(TrainingDiverged, match="by step 4 of 4"):
        train_toy(nan_from=3, max_steps=4, log_every=1000)


def test_a_finite_loss_trains_to_the_end():
    result, events = train_toy(nan_from=10**9, max_steps=4, log_every=2)
    assert result.steps == 4
    assert all(math.isfinite(f["loss"]) for t, f in events if t == "step")


def test_events_never_hold_bare_nan(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path, "r1")
    writer.emit("log", level="info", message="x", value=float("nan"))
    writer.emit(
        "warning",
        message="y",
        values=[float("inf"), -float("inf"), 1.5],
        nested={"a": np.float32("nan"), "b": np.float64(2.0), "c": torch.tensor(3.0)},
    )
    writer.close()

    def refuse(constant):
        raise ValueError(f"bare {constant} in events.jsonl")

    lines = path.read_text().splitlines()
    records = [json.loads(line, parse_constant=refuse) for line in lines]
    assert records[1]["value"] is None
    assert records[2]["values"] == [None, None, 1.5]
    assert records[2]["nested"] == {"a": None, "b": 2.0, "c": 3.0}
