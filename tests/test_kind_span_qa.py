"""Extractive QA (span_qa): windows over long contexts, answers through character
offsets in any script, n-best post-processing, and a short training run."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kinds_support import fast_tiny_model, slow_tiny_model  # noqa: E402

from engine.config import StageHparams  # noqa: E402
from engine.kinds import load_kind  # noqa: E402
from engine.kinds.span_qa import predictions, window_spans  # noqa: E402
from engine.models.heads import TaskModel, pooling_for  # noqa: E402
from engine.models.loading import load_encoder, load_tokenizer  # noqa: E402
from engine.tasks.spec import LocalSource, TaskSpec  # noqa: E402
from engine.train import Runtime, TrainTask, evaluate, train_stage  # noqa: E402

QA = load_kind("span_qa")


def task(metric="squad", name="qa-test") -> TaskSpec:
    return TaskSpec(
        name=name,
        kind="span_qa",
        labels=(),
        languages=("en",),
        source=LocalSource({}, ()),
        metric=metric,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "fast": fast_tiny_model(root / "fast"),
        "slow": slow_tiny_model(root / "slow"),
    }


@pytest.fixture(scope="module")
def tokenizers(models):
    return {name: load_tokenizer(str(path)) for name, path in models.items()}


def record(rid, question, context, answer=None, nth=1):
    """A SQuAD-format record; the answer is the nth occurrence of its text."""
    if answer is None:
        return {"id": rid, "question": question, "context": context,
                "answers": {"text": [], "answer_start": []}}  # fmt: skip
    start = -1
    for _ in range(nth):
        start = context.index(answer, start + 1)
    return {"id": rid, "question": question, "context": context,
            "answers": {"text": [answer], "answer_start": [start]}}  # fmt: skip


MAX_LENGTH, STRIDE = 96, 16
# Long contexts (several windows at MAX_LENGTH) with the answer in a later
# window, in four scripts; a short one; an unanswerable one (SQuAD v2 style).
RECORDS = [
    record(
        "ru",
        "Какой город?",
        "Москва — столица России. " * 4 + "Ответ: Санкт-Петербург, да.",
        "Санкт-Петербург",
    ),  # fmt: skip
    record("zh", "哪个城市？", "北京是中国的首都。" * 6 + "答案是上海。", "上海"),
    record(
        "ar",
        "ما المدينة؟",
        "القاهرة هي عاصمة مصر. " * 4 + "الجواب هو الإسكندرية.",
        "الإسكندرية",
    ),  # fmt: skip
    record(
        "en",
        "Who?",
        "The U.S.A. (and, well, Canada) " * 3 + "won: the U.S.A. did.",
        "U.S.A.",
        nth=4,
    ),  # fmt: skip
    record("short", "Ok?", "Yes, it is.", "Yes"),
    record("none", "Where is Paris?", "Berlin is a city in Germany. " * 3),
]


def windows_of(features, unit):
    lo, hi = int(features.offsets[unit]), int(features.offsets[unit + 1])
    return (
        features.flat_ids[lo:hi],
        features.token_arrays["char_start"][lo:hi],
        features.token_arrays["char_end"][lo:hi],
        features.token_arrays["max_context"][lo:hi],
    )


@pytest.mark.parametrize("which", ["fast", "slow"])
def test_windows_cover_the_context_and_gold_answers_map_back(tokenizers, which):
    tokenizer = tokenizers[which]
    features = QA.featurize(tokenizer, RECORDS, task(), MAX_LENGTH, STRIDE)
    units = features.unit_arrays
    assert units["record_index"].tolist() == sorted(units["record_index"].tolist())
    assert set(units["record_index"].tolist()) == set(range(len(RECORDS)))
    assert features.row_lengths.max() <= MAX_LENGTH

    for r, rec in enumerate(RECORDS):
        context = rec["context"]
        mine = np.flatnonzero(units["record_index"] == r)
        covered = np.zeros(len(context), dtype=bool)
        flagged = 0
        answer_windows = []
        previous = None
        for unit in mine:
            ids, start, end, max_context = windows_of(features, unit)
            ctx = start >= 0
            for s, e in zip(start[ctx], end[ctx], strict=True):
                covered[s:e] = True
            flagged += int(max_context[ctx].sum())
            assert not max_context[~ctx].any()
            spans = list(zip(start[ctx], end[ctx], strict=True))
            if previous is not None:  # consecutive windows share `stride` tokens
                assert previous[-STRIDE:] == spans[:STRIDE]
            previous = spans
            s, e = units["start_positions"][unit], units["end_positions"][unit]
            if s or e:
                answer_windows.append(unit)
                assert context[start[s] : end[e]] == rec["answers"]["text"][0]
            elif which == "fast":
                assert ids[0] == tokenizer.cls_token_id  # no answer: the <s> token

        # Every character but whitespace is inside some context token.
        assert all(covered[i] or context[i].isspace() for i in range(len(context)))
        # Each context token (one per UTF-8 byte for both tokenizers here) has
        # its maximum context in exactly one window.
        assert flagged == len(context.encode("utf-8"))
        if rec["id"] == "none":
            assert not answer_windows
        elif rec["id"] != "short":
            assert len(mine) > 1
            assert answer_windows and answer_windows[0] > mine[0]  # a later window
        else:
            assert answer_windows == [mine[0]]


def test_fast_and_slow_paths_cut_the_same_windows(tokenizers):
    """The fast tokenizer windows itself; the slow path uses window_spans. With
    one token per byte in both, each record's windows must hold the same
    context bytes."""
    for which in ("fast", "slow"):
        tokenizer = tokenizers[which]
        features = QA.featurize(tokenizer, RECORDS, task(), MAX_LENGTH, STRIDE)
        n_special = tokenizer.num_special_tokens_to_add(pair=True)
        for r, rec in enumerate(RECORDS):
            room = MAX_LENGTH - n_special - len(rec["question"].encode("utf-8"))
            expected = window_spans(len(rec["context"].encode("utf-8")), room, STRIDE)
            units = np.flatnonzero(features.unit_arrays["record_index"] == r)
            sizes = [int((windows_of(features, u)[1] >= 0).sum()) for u in units]
            assert sizes == [e - s for s, e in expected], (which, rec["id"])


def test_window_spans_overlap_by_stride_and_end_at_the_context_end():
    assert window_spans(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert window_spans(3, 4, 2) == [(0, 3)]
    assert window_spans(0, 4, 2) == [(0, 0)]
    with pytest.raises(ValueError):
        window_spans(10, 4, 4)


@pytest.mark.parametrize("which", ["fast", "slow"])
def test_long_question_and_large_stride_still_make_windows(tokenizers, which):
    """A stride wider than a window (the config default 128 at max_length 64)
    is capped instead of failing; an over-long question is cut."""
    rec = record("q", "Why? " * 100, "Some long context here. " * 20 + "Yes.", "Yes")
    features = QA.featurize(tokenizers[which], [rec], task(), max_length=64, stride=128)
    assert features.row_lengths.max() <= 64
    question_tokens = (
        features.token_arrays["char_start"][: features.offsets[1]] < 0
    ).sum()
    assert question_tokens <= 64 // 2 + 4
    found = [
        rec["context"][s[a] : e[b]]
        for u in range(len(features))
        for _, s, e, _ in [windows_of(features, u)]
        for a, b in [
            (
                features.unit_arrays["start_positions"][u],
                features.unit_arrays["end_positions"][u],
            )
        ]  # fmt: skip
        if a
    ]
    assert found == ["Yes"]


class WordPieceStub:
    """A slow, non-byte tokenizer: words in 3-character lower-cased pieces
    (continuations marked ##), accents stripped, BERT's pair layout."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    unk_token_id = 1
    cls_token_id = 2
    is_fast = False

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def tokenize(self, word):
        import unicodedata

        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if not unicodedata.combining(c))
        pieces = [word[i : i + 3] for i in range(0, len(word), 3)]
        return [p if i == 0 else "##" + p for i, p in enumerate(pieces)]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        for t in tokens:
            if len(t) > 1 or t.isalpha():
                self.vocab.setdefault(t, len(self.vocab) + 10)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def num_special_tokens_to_add(self, pair=False):
        return 3 if pair else 2

    def build_inputs_with_special_tokens(self, a, b):
        return [self.cls_token_id, *a, 3, *b, 3]

    def create_token_type_ids_from_sequences(self, a, b):
        return [0] * (len(a) + 2) + [1] * (len(b) + 1)


def test_slow_word_level_tokenizer_maps_answers_through_aligned_pieces():
    stub = WordPieceStub()
    rec = record(
        "w", "Where?", "He moved to Berlin. Then Éloïse left Zürich!", "Zürich"
    )
    features = QA.featurize(stub, [rec], task(), max_length=40, stride=4)
    assert features.flat_type_ids is not None
    ids, start, end, _ = windows_of(features, len(features) - 1)
    s = features.unit_arrays["start_positions"][-1]
    e = features.unit_arrays["end_positions"][-1]
    assert rec["context"][start[s] : end[e]] == "Zürich"
    # "Berlin." is cut in pieces ber / ##lin / ##.: each piece its own characters.
    ids0, start0, end0, _ = windows_of(features, 0)
    pieces = [rec["context"][a:b] for a, b in zip(start0, end0, strict=True) if a >= 0]
    assert pieces[:5] == ["He", "mov", "ed", "to", "Ber"]


# -- post-processing ------------------------------------------------------------
def gathered_from(features, marks):
    """Run the kind's gather on hand-made logits: 0 everywhere, `marks` maps
    (unit, token, 0 for start / 1 for end) to a logit; padding as the head."""
    width = int(features.row_lengths.max())
    logits = torch.zeros(len(features), width, 2)
    mask = torch.zeros(len(features), width, dtype=torch.long)
    for u, n in enumerate(features.row_lengths):
        mask[u, :n] = 1
    for (u, t, which), value in marks.items():
        logits[u, t, which] = value
    logits = logits.masked_fill((mask == 0).unsqueeze(-1), -1e9)
    return QA.gather(logits, {"attention_mask": mask})


def gold(features, rec_index):
    """(unit, start token, end token) of a record's answer window."""
    units = features.unit_arrays
    for u in np.flatnonzero(units["record_index"] == rec_index):
        if units["start_positions"][u]:
            return (
                int(u),
                int(units["start_positions"][u]),
                int(units["end_positions"][u]),
            )
    raise AssertionError("no answer window")


def test_post_processing_picks_the_best_valid_span_across_windows(tokenizers):
    recs = RECORDS[:2]  # ru and zh, several windows each
    features = QA.featurize(tokenizers["fast"], recs, task(), MAX_LENGTH, STRIDE)
    marks = {}
    for r in range(2):
        unit, s, e = gold(features, r)
        marks[(unit, s, 0)] = marks[(unit, e, 1)] = 10.0
        context = np.flatnonzero(windows_of(features, unit)[1] >= 0)
        # Higher-scoring but invalid: an end before the gold start paired with
        # a start after the gold end (reversed), and a question token.
        marks[(unit, context[0], 1)] = 15.0
        marks[(unit, context[-1], 0)] = 15.0
        marks[(unit, 1, 0)] = marks[(unit, 2, 1)] = 30.0
        # In the record's first window: a span longer than 30 tokens.
        first = int(np.flatnonzero(features.unit_arrays["record_index"] == r)[0])
        context = np.flatnonzero(windows_of(features, first)[1] >= 0)
        marks[(first, context[2], 0)] = marks[(first, context[2] + 35, 1)] = 15.0
    gathered = gathered_from(features, marks)
    assert gathered["start_index"].shape == (len(features), QA.n_best)
    out = predictions(gathered, features, recs, no_answer=False)
    assert out == {0: "Санкт-Петербург", 1: "上海"}
    scores = QA.score(gathered, features, recs, task("squad"), "en")
    assert list(scores)[:2] == ["f1", "exact_match"]
    assert scores["f1"] == scores["exact_match"] == 1.0
    assert QA.score(gathered, features, recs, task("mlqa"), "zh")["f1"] == 1.0


def test_no_answer_wins_only_for_v2_tasks_and_uses_the_lowest_null_score(tokenizers):
    recs = [RECORDS[0], RECORDS[-1]]  # answerable (several windows), unanswerable
    features = QA.featurize(tokenizers["slow"], recs, task(), MAX_LENGTH, STRIDE)
    unit, s, e = gold(features, 0)
    units0 = np.flatnonzero(features.unit_arrays["record_index"] == 0)
    units1 = np.flatnonzero(features.unit_arrays["record_index"] == 1)
    marks = {(unit, s, 0): 4.0, (unit, e, 1): 4.0}
    for u in [*units0, *units1]:  # null score 12 > 8 in every window
        marks[(u, 0, 0)] = marks[(u, 0, 1)] = 6.0
    gathered = gathered_from(features, marks)
    assert (
        predictions(gathered, features, recs, no_answer=False)[0] == "Санкт-Петербург"
    )
    assert predictions(gathered, features, recs, no_answer=True) == {0: "", 1: ""}
    v2 = QA.score(gathered, features, recs, task("squad_v2"), "en")
    assert (v2["f1"], v2["has_answer_f1"], v2["no_answer_f1"]) == (0.5, 0.0, 1.0)

    # The record's no-answer score is its lowest over windows (run_qa): one
    # window that is sure there is an answer somewhere is enough.
    marks[(int(units0[0]), 0, 0)] = marks[(int(units0[0]), 0, 1)] = -6.0
    gathered = gathered_from(features, marks)
    assert predictions(gathered, features, recs, no_answer=True)[0] == "Санкт-Петербург"


def test_gather_is_fixed_size_for_short_rows_and_scoring_skips_cut_records(tokenizers):
    features = QA.featurize(
        tokenizers["fast"], [RECORDS[4]], task(), MAX_LENGTH, STRIDE
    )
    assert features.row_lengths.max() < QA.n_best
    unit, s, e = gold(features, 0)
    gathered = gathered_from(features, {(unit, s, 0): 5.0, (unit, e, 1): 5.0})
    assert gathered["end_index"].shape == (1, QA.n_best)
    assert (gathered["end_index"][0, features.row_lengths[0] :] == -1).all()
    assert predictions(gathered, features, [RECORDS[4]], no_answer=False) == {0: "Yes"}

    # max_eval_examples keeps the first windows only: records without any
    # window are left out of the score instead of counting as wrong.
    both = QA.featurize(
        tokenizers["fast"], [RECORDS[4], RECORDS[0]], task(), MAX_LENGTH, STRIDE
    )
    cut = both.head(1)
    gathered = gathered_from(cut, {(0, s, 0): 5.0, (0, e, 1): 5.0})
    assert QA.score(gathered, cut, [RECORDS[4], RECORDS[0]], task(), "en")["f1"] == 1.0


# -- end to end -------------------------------------------------------------------
FILLER = "we walked along the quiet road and talked about small things".split()
ANSWERS = "apple river stone cloud tiger piano lemon forest candle mirror".split()


def synthetic_records(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answer = rng.choice(ANSWERS)
        before = " ".join(rng.choices(FILLER, k=rng.randint(0, 3))).capitalize()
        after = " ".join(rng.choices(FILLER, k=rng.randint(0, 3))).capitalize()
        context = f"{before}. The answer is {answer}. {after}."
        start = context.index(f"is {answer}.") + 3
        out.append(
            {
                "id": f"{seed}-{i}",
                "question": "Answer?",
                "context": context,
                "answers": {"text": [answer], "answer_start": [start]},
            }  # fmt: skip
        )
    return out


def test_training_on_the_tiny_model_learns_spans(models, tokenizers):
    """train_stage + evaluate on the built-in byte-level model: the pipeline
    runs (long contexts split, validation scored with records) and the
    trained model beats the untrained one."""
    torch.set_num_threads(2)
    tokenizer = tokenizers["slow"]
    spec = task("squad")
    train_records, test_records = synthetic_records(100, 1), synthetic_records(40, 2)
    hp = StageHparams(
        learning_rate=2e-3,
        batch_size=16,
        max_steps=30,
        max_seq_length=64,
        doc_stride=16,
        eval_every=30,
        log_every=10,
    )
    train = QA.featurize(tokenizer, train_records, spec, 64, 16)
    test = QA.featurize(tokenizer, test_records, spec, 64, 16)
    assert len(train) > len(train_records)  # some contexts need two windows
    torch.manual_seed(0)
    model = TaskModel(load_encoder(str(models["slow"])), pooling_for(tokenizer))
    model.add_head(spec, QA)
    runtime = Runtime(torch.device("cpu"))
    task_ = TrainTask(spec, QA, train, test, test_records)
    pad = tokenizer.pad_token_id

    before = evaluate(model, task_, test, test_records, hp, runtime, pad, "en")
    events = []
    result = train_stage(
        model, task_, hp, runtime, 0, pad, lambda kind, **kw: events.append((kind, kw))
    )
    after = evaluate(model, task_, test, test_records, hp, runtime, pad, "en")

    assert result.steps == 30
    evals = [kw for kind, kw in events if kind == "eval"]
    assert evals and evals[-1]["metric"] == "f1"
    for metrics in (before, after):
        assert list(metrics)[:2] == ["f1", "exact_match"]
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    losses = [kw["loss"] for kind, kw in events if kind == "step"]
    assert losses[-1] < losses[0]
    assert after["f1"] >= before["f1"] + 0.25
    assert after["exact_match"] > 0.2
