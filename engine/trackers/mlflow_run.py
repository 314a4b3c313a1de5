"""MLflow: one MLflow run per xlt run, in a file store in the workspace by
default (mlruns/; nothing leaves the machine unless [report]
mlflow_tracking_uri names a server). The config goes in as params and as the
artifact config.toml, the provenance as provenance.json."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from engine.trackers.base import RunStart, flat_params

if TYPE_CHECKING:
    from engine.config.schema import ReportTable

# MLflow's limits (mlflow/utils/validation.py): a param value of at most 6000
# characters in recent releases, 500 in older ones and on some servers; 100
# params per log_batch call.
PARAM_VALUE_MAX = 500  # the older, smaller limit: safe for either server
BATCH_MAX = 100
# Metric names may hold alphanumerics, _ - . space / and : (same module).
_NOT_IN_A_NAME = re.compile(r"[^\w\-. /:]")
# xlt's status -> MLflow's RunStatus name.
STATUS = {"finished": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}


def tracking_uri(report: ReportTable, workspace: Path) -> str:
    """[report] mlflow_tracking_uri as a URI: a folder (relative to the
    workspace) becomes a file: URI; default the workspace's mlruns/."""
    value = report.mlflow_tracking_uri
    if value is None:
        return (workspace / "mlruns").resolve().as_uri()
    if value.startswith(("http://", "https://", "databricks")):
        return value  # a server the config names (checked by the config)
    return (workspace / value).resolve().as_uri()  # (checked: inside it)


class MlflowTracker:
    name = "mlflow"

    def __init__(self, report: ReportTable, run: RunStart):
        uri = tracking_uri(report, run.workspace)
        if uri.startswith("file:"):
            # MLflow 3 refuses its file store unless opted in (it is in
            # maintenance mode; the database stores need SQLAlchemy, which
            # mlflow-skinny lacks). The file store is what a local run uses
            # here; `mlflow ui --backend-store-uri <uri>` reads it.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.experiment = report.mlflow_experiment
        self.run_id = ""

    def start(self, run: RunStart) -> None:
        from mlflow.entities import Param

        name = self.experiment or run.name
        found = self.client.get_experiment_by_name(name)
        experiment_id = (
            found.experiment_id if found else self.client.create_experiment(name)
        )
        created = self.client.create_run(
            experiment_id,
            run_name=run.run_id,
            tags={"xlt.run_id": run.run_id, "xlt.name": run.name},
        )
        self.run_id = created.info.run_id
        params = [
            Param(key[:250], value[:PARAM_VALUE_MAX])
            for key, value in flat_params(run.config).items()
        ]
        for i in range(0, len(params), BATCH_MAX):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH_MAX])
        self.client.log_text(self.run_id, run.config_toml, "config.toml")
        self.client.log_dict(self.run_id, run.provenance, "provenance.json")

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.client.log_metric(
            self.run_id, _NOT_IN_A_NAME.sub("_", tag), value, step=step
        )

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))
