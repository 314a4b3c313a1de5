"""xlt engine: headless intermediate-task transfer experiments.

Importing this package (and config, events, store, tasks) must stay light:
the TUI imports them, and it never loads torch.
"""

__version__ = "0.1.0"
