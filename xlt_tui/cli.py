"""`xlt [CONFIG] [--workspace DIR]`: open the terminal UI.

With CONFIG, the Launch screen opens with that experiment file loaded; without
it, the Runs screen. Bad arguments exit 2 with one line, like xlt-engine.

`--serve` shows the same app in a browser (textual-serve, the `serve` extra):
the server starts one `python -m xlt_tui ...` per browser session, with this
call's workspace, config and screen. It listens on localhost unless `--host`
says otherwise; it has no authentication, so any other host is warned about.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from engine.errors import InputError
from engine.extras import install_command
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
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            # escape: rich would read [serve] as a style and drop it.
            help=escape("Serve the TUI to a web browser (needs xlt[serve])."),
        ),
    ] = False,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="With --serve: the address to listen on (no login!)."
        ),
    ] = "localhost",
    port: Annotated[
        int,
        typer.Option("--port", min=1, max=65535, help="With --serve: the port."),
    ] = 8000,
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

    if serve:
        serve_in_browser(session_command(ws, config, screen), host, port)
        return

    from xlt_tui.app import XltApp

    XltApp(ws, config_file=config, start_mode=screen).run()


def session_command(ws: Workspace, config: Path | None, screen: str | None) -> str:
    """The shell line textual-serve runs for each browser session: this
    interpreter, this workspace, config and screen (absolute: the server may
    start it from another folder)."""
    argv = [sys.executable, "-m", "xlt_tui", "--workspace", str(ws.root.resolve())]
    if config is not None:
        argv.append(str(config.resolve()))
    if screen is not None:
        argv += ["--screen", screen]
    return shlex.join(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may well reach beyond this machine
        return False


def serve_in_browser(command: str, host: str, port: int) -> None:
    try:
        from textual_serve.server import Server
    except ImportError:
        err.print(
            "[red]error:[/red] --serve needs textual-serve: "
            + escape(install_command("serve"))
        )
        raise typer.Exit(code=2) from None
    if not is_loopback(host):
        err.print(
            f"[yellow]warning:[/yellow] serving on {escape(host)}: anyone who can "
            "reach this address and port controls the TUI (launch, cancel, "
            "delete runs); there is no authentication. Use the default "
            "(localhost) and an SSH tunnel unless the network is yours alone."
        )
    Server(command, host=host, port=port, title="xlt").serve()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
