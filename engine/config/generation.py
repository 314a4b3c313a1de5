"""[generation]: how code targets' completions are generated, and
`GenerationSettings`, the object engine.codegen.generate runs with.

Light module: pydantic only.
"""

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from engine.config.values import AnyText, Boolean, Integer, Number, Table

# The stop sequences of the Codex paper's HumanEval evaluation (Chen et al.
# 2021), as the bigcode evaluation harness uses them: a completion ends where
# the model starts a new top-level statement.
HUMANEVAL_STOP_SEQUENCES = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")


class GenerationSettings(Table):
    """[generation]: how code targets' completions are generated. Every field
    can change the scores, so all are part of a code target's key and are
    stored with its results (`as_dict()`)."""

    max_new_tokens: Integer = Field(
        512,
        ge=1,
        description="Tokens generated per completion at most (the prompt not counted).",
    )
    # Chen et al. 2021 ("Evaluating Large Language Models Trained on Code",
    # the Codex paper) estimate pass@k from n samples per problem with the
    # unbiased estimator of sec. 2.1 (n = 200 there) and find the best
    # temperature T = 0.2 for pass@1 and T = 0.8 for pass@100 (sec. 3.1,
    # fig. 5). For pass@k set do_sample = true, n_samples >= 20 and
    # temperature = 0.8; `greedy` then adds one greedy completion per problem,
    # scored separately as pass@1-greedy (and BLEU on it for BLEU targets).
    greedy: Boolean = Field(
        True,
        description="Also generate one greedy completion per problem (with "
        "do_sample = true), scored as pass@1-greedy; BLEU is scored on it.",
    )
    backend: Literal["auto", "transformers", "vllm"] = Field(
        "auto",
        description="Who generates: vLLM where installed with a GPU ('auto'), "
        "else transformers; the one used is recorded with the scores.",
    )
    do_sample: Boolean = Field(
        False,
        description="False: greedy decoding. True: sampling with temperature "
        "and top-p.",
    )
    temperature: Number = Field(
        0.2,
        gt=0,
        description="Sampling only: logits are divided by this before the draw.",
    )
    # Nucleus sampling: draw from the smallest set of tokens whose
    # probabilities sum to at least top_p; 1.0 disables it.
    top_p: Number = Field(
        0.95, gt=0, le=1, description="Sampling only: the nucleus' probability mass."
    )
    n_samples: Integer = Field(
        1,
        ge=1,
        description="Completions per problem (pass@k needs k <= n_samples).",
    )
    batch_size: Integer = Field(
        8, ge=1, description="Rows (prompt x sample) generated together."
    )
    # Searched for in the generated text only, never in the prompt.
    stop_sequences: tuple[AnyText, ...] = Field(
        HUMANEVAL_STOP_SEQUENCES,
        description="A completion is cut before the first of these found in it.",
    )
    # As the bigcode evaluation harness does for HumanEval: a prompt ending in
    # a newline makes most BPE tokenizers split the next line's indentation
    # unnaturally; the completion then starts with that newline itself.
    strip_prompt: Boolean = Field(
        True,
        description="Remove whitespace around the prompt before generation.",
    )
    seed: Integer = Field(
        0,
        description="Sampling only: every row's generator is seeded with "
        "(seed, task_id, sample index).",
    )

    @field_validator("stop_sequences", mode="before")
    @classmethod
    def _one_stop(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("n_samples")
    @classmethod
    def _samples_need_sampling(cls, value: int, info: ValidationInfo) -> int:
        if value > 1 and info.data.get("do_sample") is False:
            raise ValueError(
                f"{value} samples with greedy decoding would all be the same; "
                "set do_sample = true (with temperature / top_p) or n_samples = 1"
            )
        return value

    def as_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready: stored with the run's scores."""
        return self.model_dump(mode="json")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "GenerationSettings":
        """From a stored record; unknown keys are refused with the valid ones."""
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ValueError(
                f"unknown generation setting {unknown[0]!r}; expected one of "
                + ", ".join(cls.model_fields)
            )
        return cls(**values)
