"""xlt engine: headless intermediate-task transfer experiments.

Importing this package (and config, events, store, control, workspace, tasks)
must stay light: the TUI imports them, and it never loads torch.
"""

# The one place the version is written: pyproject.toml reads it from here
# ([tool.setuptools.dynamic]), runs record it (engine.runinfo).
__version__ = "0.1.0"
