"""Model families: the one object that knows how an experiment's model is
found, loaded, trained and saved.

    encoder     AutoModel (no pretraining heads) + one task head per task
                (TaskModel); an intermediate checkpoint is the encoder alone.
    causal_lm   AutoModelForCausalLM trained and run whole (CausalLMModel);
                an intermediate checkpoint is the whole LM.

Which family an experiment uses follows from its tasks' kinds
(engine.tasks.kinds: `family`). Stages (engine.stages) and the kinds' target
strategies ask the family instead of testing what kind of experiment runs.

Light at import: transformers and torch are imported when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.tasks.kinds import CAUSAL_LM, ENCODER
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.tasks.spec import TaskSpec

    # (task, its kind object) pairs: what an encoder grows a head for. The kind
    # is engine.kinds' (make_head); this layer only passes it on.
    Heads = list[tuple[TaskSpec, Any]]


# Beside a kept target model's encoder: the weights of its task heads.
TRAINED_HEADS = "heads.safetensors"


class EncoderFamily:
    name = ENCODER

    def resolve(self, model: str, workspace: Workspace) -> str:
        """The folder or hub id that from_pretrained reads (the built-in tiny
        model is written into the workspace at first use)."""
        from engine.models.loading import resolve_model_path

        return resolve_model_path(model, workspace)

    def tokenizer(self, path: str):
        from engine.models.loading import load_tokenizer

        return load_tokenizer(path)

    def training_model(self, start: str, tokenizer, heads: Heads, seed: int) -> Any:
        """The encoder at `start` with a fresh head per (task, kind), drawn
        from the stage's seed: heads start the same whatever ran before in
        the process, and differ between seeds (the seed governs head init,
        data order and dropout, as in jiant's runner, which seeds once per
        run before building the model)."""
        import torch

        from engine.models.heads import TaskModel, pooling_for
        from engine.models.loading import load_encoder

        torch.manual_seed(seed)
        if not any(getattr(kind, "reads_lm_head", False) for _, kind in heads):
            model = TaskModel(load_encoder(start), pooling_for(tokenizer))
            for task, kind in heads:
                model.add_head(task, kind)
            return model
        # An mlm task (alone or in a group) trains the checkpoint's own LM
        # head, on the encoder that shares its embeddings (engine.models.
        # masked_lm); the other tasks get fresh heads on the same encoder.
        from engine.models.masked_lm import load_masked_lm

        lm = load_masked_lm(start)
        model = TaskModel(lm.encoder, pooling_for(tokenizer))
        for task, kind in heads:
            if getattr(kind, "reads_lm_head", False):
                model.set_head(task.name, kind.make_lm_head(lm.lm_head))
            else:
                model.add_head(task, kind)
        return model

    def save_checkpoint(self, model, tokenizer, folder: Path) -> None:
        """The encoder alone, as safetensors, and the tokenizer: the heads are
        dropped (the target stage starts fresh ones)."""
        model.encoder.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

    def save_trained(self, model, tokenizer, folder: Path) -> None:
        """A trained target model: the encoder as a checkpoint, and its heads
        (safetensors), so it can be evaluated again without training."""
        from safetensors.torch import save_file

        self.save_checkpoint(model, tokenizer, folder)
        # Cloned: tied weights (an mlm head's bias and decoder bias) share
        # memory, which safetensors refuses; loading fills both again.
        heads = {
            k: v.detach().cpu().clone().contiguous()
            for k, v in model.heads.state_dict().items()
        }
        save_file(heads, str(folder / TRAINED_HEADS))

    def trained_model(self, folder: str, tokenizer, heads: Heads) -> Any:
        """A model saved by save_trained, its heads' weights restored."""
        from safetensors.torch import load_file

        model = self.training_model(folder, tokenizer, heads, seed=0)
        model.heads.load_state_dict(load_file(str(Path(folder) / TRAINED_HEADS)))
        return model


class CausalLMFamily:
    name = CAUSAL_LM

    def resolve(self, model: str, workspace: Workspace) -> str:
        from engine.models.causal import resolve_causal_model_path

        return resolve_causal_model_path(model, workspace)

    def tokenizer(self, path: str):
        from engine.models.causal import load_causal_tokenizer

        return load_causal_tokenizer(path)

    def training_model(self, start: str, tokenizer, heads: Heads, seed: int) -> Any:
        """The whole LM at `start`; code tasks share its output layer (no
        heads, so nothing is drawn from the seed here)."""
        from engine.models.causal import load_causal_lm
        from engine.models.heads import CausalLMModel

        return CausalLMModel(load_causal_lm(start))

    def save_checkpoint(self, model, tokenizer, folder: Path) -> None:
        """The whole LM (config, generation config, safetensors weights) and
        the tokenizer."""
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    def save_trained(self, model, tokenizer, folder: Path) -> None:
        self.save_checkpoint(model, tokenizer, folder)

    def trained_model(self, folder: str, tokenizer, heads: Heads) -> Any:
        return self.training_model(folder, tokenizer, heads, seed=0)


FAMILIES = {family.name: family for family in (EncoderFamily(), CausalLMFamily())}


def model_family(name: str) -> EncoderFamily | CausalLMFamily:
    return FAMILIES[name]
