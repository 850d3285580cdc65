"""The ``rewardlab`` command line: one typer app, one module per command group.

Each module in `COMMAND_MODULES` registers its commands on `app` when imported. Heavy imports (torch,
transformers) happen inside the command functions, so ``rewardlab --help`` stays instant.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="rewardlab",
    help="Reward models: score, evaluate, train, serve and search with one interface.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

def _print_version(value: bool) -> None:
    if value:
        from rewardlab import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the rewardlab version and exit."),
    allow_key_env: list[str] = typer.Option([], "--allow-key-env", help="Environment variable a spec's "
                                            "api_key_env may name (besides OPENAI_API_KEY); repeat for several."),
) -> None:
    """Reward models: score, evaluate, train, serve and search with one interface."""
    if allow_key_env:
        from rewardlab.generation.keys import allow_key_env as allow

        allow(*allow_key_env)


COMMAND_MODULES = [
    "rewardlab.cli.score",
    "rewardlab.cli.synth",
    "rewardlab.cli.demo",
    "rewardlab.cli.serve",
    "rewardlab.cli.eval",
    "rewardlab.cli.train",
    "rewardlab.cli.label_steps",
    "rewardlab.cli.search",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    """Entry point: user errors (bad input, unknown names, missing files) print one clear line, exit 2.

    ``REWARDLAB_DEBUG=1`` shows the full traceback instead.
    """
    import os
    import sys

    from rich.console import Console
    from rich.markup import escape

    from rewardlab.registry import RegistryError

    try:
        app(standalone_mode=True)
    except (ValueError, RegistryError, FileNotFoundError, OSError) as exc:
        if os.environ.get("REWARDLAB_DEBUG"):
            raise
        err = Console(stderr=True, soft_wrap=True, highlight=False)
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
