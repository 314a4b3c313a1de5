"""The code_generation kind on a tiny causal LM written at run time: loading
through the Auto classes, supervised fine-tuning with the loss on the solution
only, batched generation (batch-size invariant, seeded sampling, stop
sequences), and scoring by execution (pass@k) or BLEU."""

from __future__ import annotations

import json
import sys
import types
from math import comb
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from engine.codegen.generate import (  # noqa: E402
    HUMANEVAL_STOP_SEQUENCES,
    GenerationSettings,
    generate_completions,
    sample_seed,
    truncate_at_stop,
)
from engine.config import StageHparams  # noqa: E402
from engine.errors import InputError  # noqa: E402
from engine.kinds.code_generation import (  # noqa: E402
    IGNORE,
    CodeGenerationKind,
    score_generations,
)
from engine.models.causal import load_causal_lm, load_causal_tokenizer  # noqa: E402
from engine.models.heads import CausalLMModel  # noqa: E402
from engine.models.tiny_causal import (  # noqa: E402
    ensure_tiny_causal_model,
    tiny_causal_tokenizer,
)
from engine.tasks.spec import LocalSource, TaskSpec  # noqa: E402
from engine.train import Runtime, TrainTask, train_stage  # noqa: E402

KIND = CodeGenerationKind()
CPU = Runtime(torch.device("cpu"))
OPS = {"add": "+", "sub": "-", "mul": "*"}
NAMES = ["a", "b", "x", "y", "n", "m", "p", "q", "s", "t", "u", "v"]


def spec(metric="pass@k", name="code") -> TaskSpec:
    return TaskSpec(
        name=name,
        kind="code_generation",
        labels=(),
        languages=("en",),
        source=LocalSource(files={}),
        metric=metric,
    )


def problem(fn: str, left: str, right: str, index: int = 0) -> dict:
    """A record in the canonical code shape (HumanEval-style prefix)."""
    prompt = f"def {fn}({left}, {right}):\n"
    return {
        "task_id": f"toy/{fn}-{left}-{right}-{index}",
        "problem_id": f"toy/{fn}",
        "language": "en",
        "prompt": prompt,
        "solution": f"    return {left} {OPS[fn]} {right}\n",
        "program_prefix": prompt,
        "test_program": (
            f"assert {fn}(7, 3) == 7 {OPS[fn]} 3\nassert {fn}(2, 5) == 2 {OPS[fn]} 5\n"
        ),
        "entry_point": fn,
        "reference_code": f"return {left} {OPS[fn]} {right}",
    }


def training_pairs() -> list[dict]:
    """42 prompt -> solution pairs: three operations, many argument names."""
    out = [
        problem(fn, left, right)
        for left, right in (("a", "b"), ("x", "y"))
        for fn in OPS
    ]
    for i, left in enumerate(NAMES):
        out += [problem(fn, left, NAMES[(i + 3) % len(NAMES)]) for fn in OPS]
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return ensure_tiny_causal_model(tmp_path_factory.mktemp("models") / "causal")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return load_causal_tokenizer(str(model_dir))


def fresh_model(model_dir) -> CausalLMModel:
    return CausalLMModel(load_causal_lm(str(model_dir)))


def sft(model, tokenizer, records, steps=150, validation=None, emit=None):
    features = KIND.featurize(tokenizer, records, spec(), 64, 0)
    val = KIND.featurize(tokenizer, validation, spec(), 64, 0) if validation else None
    hp = StageHparams(
        learning_rate=3e-3,
        batch_size=8,
        max_steps=steps,
        warmup_ratio=0.05,
        log_every=10,
        eval_every=steps // 2,
        max_seq_length=64,
    )
    events = []
    train_stage(
        model,
        TrainTask(spec(), KIND, features, val),
        hp,
        CPU,
        seed=0,
        pad_id=tokenizer.pad_token_id,
        emit=emit or (lambda type, **kw: events.append((type, kw))),
        select_best=False,
    )
    return events


@pytest.fixture(scope="module")
def trained(model_dir, tokenizer):
    """The tiny LM fine-tuned on the toy pairs, each solution followed by a
    second function (so stop sequences have something to cut)."""
    records = [
        r | {"solution": r["solution"] + "\n\ndef main():\n    pass\n"}
        for r in training_pairs()
    ]
    model = fresh_model(model_dir)
    sft(model, tokenizer, records, steps=300)
    return model


# -- the tiny model -----------------------------------------------------------


def test_tiny_causal_model_is_written_once_and_loads_through_auto_classes(
    model_dir,
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = {p.name for p in model_dir.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(name.endswith((".bin", ".pt")) for name in files)
    stamp = (model_dir / "model.safetensors").stat().st_mtime_ns
    ensure_tiny_causal_model(model_dir)
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == stamp

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True)
    assert tokenizer.is_fast
    assert tokenizer.pad_token_id not in (None, tokenizer.eos_token_id)
    text = "def f():\n    return 'Привет, 日本語 ✓'  # ok\n"
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert len(ids) == 1 + len(text.encode("utf-8"))  # one token per byte
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), len(tokenizer))


def test_loading_refuses_pickled_weights_and_pads_with_eos_when_needed(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(InputError, match="safetensors"):
        load_causal_lm(str(folder))

    no_pad = tiny_causal_tokenizer()
    no_pad.pad_token = None
    no_pad.save_pretrained(tmp_path / "tok")
    tokenizer = load_causal_tokenizer(str(tmp_path / "tok"))
    assert tokenizer.pad_token_id == tokenizer.eos_token_id


# -- supervised fine-tuning -----------------------------------------------------

MULTILINGUAL = [
    {
        "prompt": 'def suma(a, b):\n    """Devuelve la suma de a y b."""\n',
        "solution": "    return a + b\n",
    },
    {
        "prompt": 'def 足す(a, b):\n    """a と b の和を返す。"""\n',
        "solution": "    return a + b  # 和\n",
    },
    {
        "prompt": '\ndef сумма(a, b):\n    """Вернуть сумму чисел a и b."""\n\n',
        "solution": "    return a + b\n",
    },
    {"prompt": "# empty solution\n", "solution": ""},
]


@pytest.mark.parametrize("bos", [True, False], ids=["llama-like", "gpt2-like"])
def test_labels_are_ignored_exactly_on_the_prompt_tokens(bos):
    tokenizer = tiny_causal_tokenizer(add_bos=bos)
    features = KIND.featurize(tokenizer, MULTILINGUAL, spec(), 512, 0)
    labels = features.token_arrays["labels"]
    assert len(features) == len(MULTILINGUAL)
    for row, record in enumerate(MULTILINGUAL):
        start, end = features.offsets[row], features.offsets[row + 1]
        ids = features.flat_ids[start:end].tolist()
        row_labels = labels[start:end].tolist()
        context = record["prompt"].strip()
        n_prompt = len(tokenizer(context)["input_ids"])
        assert row_labels[:n_prompt] == [IGNORE] * n_prompt
        assert row_labels[n_prompt:] == ids[n_prompt:]  # every other token
        assert ids[-1] == tokenizer.eos_token_id
        assert (ids[0] == tokenizer.bos_token_id) == bos
        # The prompt part is the stripped prompt, byte for byte (multi-byte
        # UTF-8 characters included); the rest is its trailing whitespace
        # and the solution.
        assert tokenizer.decode(ids[:n_prompt], skip_special_tokens=True) == context
        trailing = record["prompt"][len(record["prompt"].rstrip()) :]
        assert (
            tokenizer.decode(ids[n_prompt:], skip_special_tokens=True)
            == trailing + record["solution"]
        )


def test_a_long_prompt_loses_its_beginning_and_keeps_bos():
    tokenizer = tiny_causal_tokenizer()
    prompt = "".join(f"# line {i}\n" for i in range(40)) + "def f(x):"
    record = {"prompt": prompt, "solution": "\n    return x\n"}
    features = KIND.featurize(tokenizer, [record], spec(), 32, 0)
    ids = features.flat_ids.tolist()
    labels = features.token_arrays["labels"].tolist()
    assert len(ids) == 32
    assert ids[0] == tokenizer.bos_token_id
    n_solution = len(record["solution"].encode()) + 1  # + </s>
    kept = tokenizer.decode(ids[1 : 32 - n_solution])
    assert prompt.endswith(kept) and len(kept) == 32 - n_solution - 1
    assert labels[: 32 - n_solution] == [IGNORE] * (32 - n_solution)
    assert labels[32 - n_solution :] == ids[32 - n_solution :]

    # A solution longer than the whole budget keeps its start, after <s>.
    long = {"prompt": "def g():", "solution": "\n" + "    pass\n" * 20}
    features = KIND.featurize(tokenizer, [long], spec(), 16, 0)
    ids = features.flat_ids.tolist()
    assert len(ids) == 16 and ids[0] == tokenizer.bos_token_id
    assert features.token_arrays["labels"].tolist()[1:] == ids[1:]
    assert tokenizer.decode(ids[1:]) == long["solution"][:15]


def test_loss_is_the_models_own_loss_on_the_solution_tokens(model_dir, tokenizer):
    model = fresh_model(model_dir)
    model.eval()
    features = KIND.featurize(tokenizer, MULTILINGUAL, spec(), 512, 0)
    batch = KIND.collate(features, torch.arange(len(features)).numpy(), 2, 1)
    with torch.no_grad():
        ours = KIND.loss(model("code", batch), batch)
        labels = batch["token.labels"].masked_fill(batch["attention_mask"] == 0, IGNORE)
        reference = model.lm(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=labels,
        ).loss
    assert torch.allclose(ours, reference, atol=1e-5)


def test_train_stage_fine_tunes_the_whole_lm_and_saves_it(
    model_dir, tokenizer, tmp_path
):
    model = fresh_model(model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    events = sft(
        model, tokenizer, training_pairs(), steps=60, validation=training_pairs()[:12]
    )
    losses = [kw["loss"] for type, kw in events if type == "step"]
    assert losses[-1] < losses[0] / 3, losses
    evals = [kw for type, kw in events if type == "eval"]
    assert [e["metric"] for e in evals] == ["token_accuracy"] * 2
    assert evals[-1]["value"] > 0.6, evals
    after = model.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)  # every weight

    model.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "model.safetensors").is_file()
    reloaded = load_causal_lm(str(tmp_path / "ckpt"))
    ids = torch.tensor([tokenizer("def add(a, b):\n")["input_ids"]])
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.lm(ids).logits, reloaded(ids).logits, atol=1e-6)
    with pytest.raises(TypeError, match="CausalLMModel"):
        KIND.make_head(64, spec(), 0.1, "mean")


# -- generation -------------------------------------------------------------------


def test_stop_sequences_cut_at_the_earliest_one():
    stops = HUMANEVAL_STOP_SEQUENCES
    text = "    return 1\n\n# note\ndef g():\n    pass\n"
    assert truncate_at_stop(text, stops) == ("    return 1\n", True)
    assert truncate_at_stop("    return 1\n", stops) == ("    return 1\n", False)
    assert truncate_at_stop("\nprint(1)", stops) == ("", True)
    assert truncate_at_stop("x\nif __name__ == '__main__':", stops) == ("x", True)
    assert truncate_at_stop("    # indented comment stays\n", stops)[1] is False
    assert truncate_at_stop("abc", ()) == ("abc", False)


def test_generation_settings_are_validated_and_recorded():
    settings = GenerationSettings(do_sample=True, n_samples=5, stop_sequences=["\n"])
    record = settings.as_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["stop_sequences"] == ["\n"] and record["n_samples"] == 5
    assert GenerationSettings.from_mapping(record) == settings
    with pytest.raises(ValueError, match="do_sample"):
        GenerationSettings(n_samples=2)
    with pytest.raises(ValueError, match="top_p"):
        GenerationSettings(top_p=0)
    with pytest.raises(ValueError, match="unknown generation setting 'temprature'"):
        GenerationSettings.from_mapping({"temprature": 0.8})
    assert sample_seed(0, "HumanEval/1", 0) == sample_seed(0, "HumanEval/1", 0)
    assert sample_seed(0, "HumanEval/1", 0) != sample_seed(0, "HumanEval/1", 1)


PROMPTS = [
    {"task_id": "p/short", "prompt": "def f("},
    {
        "task_id": "p/long",
        "prompt": "# " + "a long comment line " * 6 + "\ndef g(x):\n",
    },
    {"task_id": "p/ja", "prompt": 'def 足す(a, b):\n    """和を返す。"""\n'},
    {"task_id": "p/ru", "prompt": "def привет():\n"},
    {"task_id": "p/mid", "prompt": "class A:\n    def m(self):\n"},
]


def test_greedy_output_does_not_depend_on_batch_size(model_dir, tokenizer):
    model = fresh_model(model_dir)
    runs = [
        generate_completions(
            model,
            tokenizer,
            PROMPTS,
            GenerationSettings(max_new_tokens=24, batch_size=size, stop_sequences=()),
            CPU,
        )
        for size in (1, 4)
    ]
    assert runs[0] == runs[1]
    assert [c["task_id"] for c in runs[0]] == [p["task_id"] for p in PROMPTS]
    assert all(c["new_tokens"] > 0 for c in runs[0])


def test_a_prompt_longer_than_the_context_keeps_its_end(model_dir, tokenizer):
    model = fresh_model(model_dir)
    model.lm.config.max_position_embeddings = 48  # room for 40 prompt tokens
    settings = GenerationSettings(max_new_tokens=8, stop_sequences=())
    out = generate_completions(model, tokenizer, PROMPTS, settings, CPU)
    assert [c["prompt_truncated"] for c in out] == [
        len(tokenizer(p["prompt"].strip())["input_ids"]) > 40 for p in PROMPTS
    ]
    assert any(c["prompt_truncated"] for c in out)
    assert not out[0]["prompt_truncated"]
    with pytest.raises(ValueError, match="no room for the prompt"):
        generate_completions(
            model, tokenizer, PROMPTS, GenerationSettings(max_new_tokens=48), CPU
        )


def test_sampling_gives_n_seeded_completions_per_problem(model_dir, tokenizer):
    model = fresh_model(model_dir)

    def sample(batch_size, seed=7):
        settings = GenerationSettings(
            max_new_tokens=12,
            do_sample=True,
            temperature=1.0,
            top_p=0.95,
            n_samples=3,
            batch_size=batch_size,
            seed=seed,
            stop_sequences=(),
        )
        return generate_completions(model, tokenizer, PROMPTS[:3], settings, CPU)

    first = sample(4)
    assert [(c["task_id"], c["completion_index"]) for c in first] == [
        (p["task_id"], j) for p in PROMPTS[:3] for j in range(3)
    ]
    assert sample(4) == first  # the same seed draws the same samples
    assert sample(1) == first  # whatever shares a batch
    assert len({c["completion"] for c in first if c["task_id"] == "p/short"}) > 1
    assert sample(4, seed=8) != first


def test_generation_stops_early_at_stop_sequences(trained, tokenizer):
    problems = [problem("add", "a", "b", 1), problem("mul", "x", "y", 1)]
    steps = []
    hook = trained.lm.register_forward_hook(lambda *args: steps.append(1))
    try:
        greedy = GenerationSettings(max_new_tokens=60, batch_size=2)
        out = generate_completions(trained, tokenizer, problems, greedy, CPU)
    finally:
        hook.remove()
    for record, completion in zip(problems, out, strict=True):
        # The model learnt "<solution>\n\ndef main():..."; "\ndef " ends it.
        assert completion["completion"] == "\n" + record["solution"] + "\n"
        assert completion["stopped"] == "stop_sequence"
    # Generation ended as soon as both rows had met "\ndef " (one forward
    # pass per new token), not at the end-of-sequence token 20 tokens later.
    assert len(steps) == max(c["new_tokens"] for c in out) < 30, steps

    no_stops = GenerationSettings(max_new_tokens=60, stop_sequences=())
    full = generate_completions(trained, tokenizer, problems[:1], no_stops, CPU)[0]
    assert "\ndef main():" in full["completion"]
    assert (
        truncate_at_stop(full["completion"], HUMANEVAL_STOP_SEQUENCES)[0]
        == (out[0]["completion"])
    )


# -- scoring ------------------------------------------------------------------------


@pytest.fixture
def codeeval(monkeypatch):
    """engine.codeeval as written, or a stand-in with the agreed API where a
    module is not there yet (pass@k is the unbiased estimator either way)."""
    modules = {}
    for name in ("passk", "bleu", "sandbox"):
        try:
            modules[name] = __import__(f"engine.codeeval.{name}", fromlist=["_"])
        except ImportError:
            modules[name] = _stand_in(name, monkeypatch)
    return modules


def _stand_in(name, monkeypatch):
    package = sys.modules.get("engine.codeeval")
    if package is None:
        package = types.ModuleType("engine.codeeval")
        package.__path__ = []
        monkeypatch.setitem(sys.modules, "engine.codeeval", package)
    module = types.ModuleType(f"engine.codeeval.{name}")
    if name == "passk":

        def pass_at_k(n, c, k):
            return 1.0 if n - c < k else 1.0 - comb(n - c, k) / comb(n, k)

        def mean_pass_at_k(counts, ks):
            low = min(n for n, _ in counts.values())
            return {
                f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in counts.values())
                / len(counts)
                for k in ks
                if k <= low
            }

        module.mean_pass_at_k = mean_pass_at_k
    elif name == "bleu":
        module.code_bleu = lambda predictions, references: (
            100.0
            * sum(
                p.strip() == r.strip()
                for p, r in zip(predictions, references, strict=True)
            )
            / len(references)
        )
    else:
        module.Limits = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def stub_check(problems, samples, limits, workers=2):
    """An executor stand-in: a completion passes when it is the reference."""
    results = []
    for sample in samples:
        ok = (
            sample["completion"].strip()
            == problems[sample["task_id"]]["solution"].strip()
        )
        status = (
            "passed"
            if ok
            else ("timed_out" if "while" in sample["completion"] else "failed")
        )
        verdict = types.SimpleNamespace(status=status, reason="", seconds=0.0)
        results.append(
            types.SimpleNamespace(
                task_id=sample["task_id"],
                completion_index=sample["completion_index"],
                verdict=verdict,
            )
        )
    return results


def test_pass_at_k_counts_every_verdict_and_reports_k_up_to_n(codeeval):
    records = [problem("add", "a", "b"), problem("sub", "x", "y")]
    right = [r["solution"] for r in records]
    completions = []
    for j in range(10):  # add: 4 of 10 right; sub: 1 of 10, 2 time out
        add = right[0] if j < 4 else "    return a - b\n"
        sub = right[1] if j == 0 else ("    while 1: pass\n" if j < 3 else "    pass\n")
        completions += [
            {
                "task_id": records[0]["task_id"],
                "completion_index": j,
                "completion": add,
            },
            {
                "task_id": records[1]["task_id"],
                "completion_index": j,
                "completion": sub,
            },
        ]
    scores = score_generations(records, completions, spec(), check=stub_check)
    metrics = scores.metrics
    assert list(metrics)[:2] == ["pass@1", "pass@10"]  # primary first; no pass@100
    assert metrics["pass@1"] == pytest.approx((0.4 + 0.1) / 2)
    assert metrics["pass@10"] == pytest.approx(1.0)
    assert (metrics["passed"], metrics["failed"], metrics["timed_out"]) == (5, 13, 2)
    assert metrics["samples_per_problem"] == 10
    assert len(scores.samples) == 20
    assert scores.primary == ("pass@1", metrics["pass@1"])
    with pytest.raises(ValueError, match="no completion"):
        score_generations(records, completions[:1], spec(), check=stub_check)


def test_bleu_tasks_score_the_first_completion(codeeval):
    records = [problem("add", "a", "b"), problem("sub", "x", "y")]
    completions = [
        {
            "task_id": records[0]["task_id"],
            "completion_index": 0,
            "completion": records[0]["reference_code"],
        },
        {
            "task_id": records[1]["task_id"],
            "completion_index": 0,
            "completion": "print('nothing like it')",
        },
    ]
    scores = score_generations(records, completions, spec(metric="bleu"))
    assert list(scores.metrics) == ["bleu", "problems"]
    expected = codeeval["bleu"].code_bleu(
        [c["completion"] for c in completions], [r["reference_code"] for r in records]
    )
    assert scores.metrics["bleu"] == pytest.approx(expected)
    assert 0 < scores.metrics["bleu"] < 100


def test_fine_tune_generate_and_score_end_to_end(trained, tokenizer, codeeval):
    # Problems seen in training (new task ids): a toy model memorises, it
    # does not generalise; this proves the machinery.
    problems = [
        problem("add", "a", "b", 2),
        problem("sub", "x", "y", 2),
        problem("mul", "a", "b", 2),
    ]
    completions = generate_completions(
        trained, tokenizer, problems, GenerationSettings(max_new_tokens=40), CPU
    )
    metrics = score_generations(problems, completions, spec(), check=stub_check).metrics
    assert 0.0 <= metrics["pass@1"] <= 1.0
    assert metrics["passed"] + metrics["failed"] + metrics["timed_out"] == 3
    # The toy problems were learnt: the stand-in executor passes them all.
    assert metrics["pass@1"] == 1.0, completions


def test_real_sandbox_scores_generated_code(trained, tokenizer):
    """With engine.codeeval in place, the generated code really runs."""
    pytest.importorskip("engine.codeeval.execute")
    from engine.codeeval.sandbox import Limits

    problems = [problem("add", "a", "b", 3), problem("mul", "x", "y", 3)]
    completions = generate_completions(
        trained, tokenizer, problems, GenerationSettings(max_new_tokens=40), CPU
    )
    broken = [c | {"completion": "    return None\n"} for c in completions]
    limits = Limits(timeout_s=10.0)
    good = score_generations(problems, completions, spec(), limits, workers=2)
    bad = score_generations(problems, broken, spec(), limits, workers=2)
    assert 0.0 <= good.metrics["pass@1"] <= 1.0
    assert good.metrics["pass@1"] == 1.0, good.samples
    assert bad.metrics["pass@1"] == 0.0 and bad.metrics["failed"] == 2
