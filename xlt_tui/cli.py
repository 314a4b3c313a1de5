"""`xlt [CONFIG] [--workspace DIR]`: open the terminal UI.

With CONFIG, the Launch screen opens with that experiment file loaded; without
it, the Runs screen. Bad arguments exit 2 with one line, like xlt-engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from engine.errors import InputError
from engine.workspace import Workspace

MODES = ("runs", "launch", "results")
cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@cli.command(help="xlt: launch, watch and compare cross-lingual transfer runs.")
def open_tui(
    config: Annotated[
        Path | None,
        typer.Argument(help="Experiment file to open in the Launch screen."),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", help="Workspace folder (default $XLT_HOME or ~/.xlt)."
        ),
    ] = None,
    screen: Annotated[
        str | None,
        typer.Option("--screen", help="Screen to open first: runs, launch or results."),
    ] = None,
) -> None:
    from engine.errors import did_you_mean

    try:
        if config is not None and not config.is_file():
            raise InputError(f"config file '{config}' does not exist")
        if screen is not None and screen not in MODES:
            raise InputError(
                f"--screen: '{screen}' is not one of {', '.join(MODES)}"
                f"{did_you_mean(screen, MODES)}"
            )
        ws = Workspace.open(workspace)
    except (InputError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from None

    from xlt_tui.app import XltApp

    XltApp(ws, config_file=config, start_mode=screen).run()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
