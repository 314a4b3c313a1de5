"""The paper's figures, drawn with matplotlib (Agg, imported only when a
figure is drawn), and their inputs as plain data.

- `main`: change against the baseline per target, one point per
  intermediate with its 95% interval (Phang et al. 2020, Figure 1's shape).
- `languages`: per-language change for one target, in an order the user
  gives (distance from English, pretraining size, ...).
- `validation_gain`: an intermediate task's own English validation score
  against its average transfer gain, with Pearson and Spearman correlations.
- `learning_curve`: a stage's training loss per step, its validation checks
  and the step it kept.

Inputs are plain records (`engine.figures.inputs`), so the figures do not
depend on how deltas and intervals were computed; `engine.figures.run_data`
builds them from a run in the workspace.
"""

from __future__ import annotations

FIGURE_KINDS = ("main", "languages", "validation-vs-gain", "learning-curve")
FIGURE_FORMATS = ("png", "svg", "pdf")
