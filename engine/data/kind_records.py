"""Moved: engine.data.overrides (kept until its last importers switch)."""

from engine.data.overrides import (  # noqa: F401
    manual_data_message,
    resolve_manual_folder,
    with_local_files,
)
