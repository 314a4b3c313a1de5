"""Forward a run's live metrics to the trackers researchers already use.

`[report] to = ["tensorboard", "mlflow", "wandb"]`: each an optional extra,
imported only when asked for, and only in the driver (`xlt-engine run`), which
hears every stage's events, workers' included. engine.trackers.dispatch turns
the event stream into tracker calls; one module per tracker writes them.
"""

from engine.trackers.setup import check_installed, open_trackers

__all__ = ["check_installed", "open_trackers"]
