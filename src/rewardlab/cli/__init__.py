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
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

COMMAND_MODULES = [
    "rewardlab.cli.score",
]

for _module in COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    app()
