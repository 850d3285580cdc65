"""``rewardlab train RECIPE``: one subcommand per training recipe, its flags generated from the config.

`RECIPES` maps a recipe name to a module exposing ``Config`` (a `rewardlab.train.config.TrainConfig`
subclass) and ``main(config) -> dict``. Adding a recipe is one line here. Flags mirror the config fields
one to one (``learning_rate`` -> ``--learning-rate``, help text from the field's description);
``--config FILE.yaml`` supplies any of them, and flags given on the command line win. Recipe modules are
imported only when their subcommand runs (or ``rewardlab train --help`` lists them), so ``rewardlab
--help`` never imports torch.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from typing import Any, Optional

import typer
import typer.main
from typer.core import TyperGroup

from rewardlab.cli import app

RECIPES: dict[str, str] = {
    "bt": "rewardlab.train.bt",
    "regression": "rewardlab.train.regression",
    "ordinal": "rewardlab.train.ordinal",
    "prm": "rewardlab.train.prm",
    "dpo": "rewardlab.train.dpo",
    "genrm": "rewardlab.train.genrm",
}


class RecipeGroup(TyperGroup):
    """The ``train`` group: its subcommands are built from `RECIPES` when asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(RECIPES)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in RECIPES:
            return None
        return recipe_command(name, importlib.import_module(RECIPES[name]))


train_app = typer.Typer(cls=RecipeGroup, no_args_is_help=True, add_completion=False,
                        help=("Train a reward model (bt, regression, ordinal, prm), a generative verifier "
                              "(genrm) or a DPO policy (dpo)."))
app.add_typer(train_app, name="train")


def recipe_command(name: str, module: Any) -> Any:
    """A typer command whose options are the fields of ``module.Config`` (plus ``--config``)."""
    config_cls = module.Config

    def run(config: str | None = None, **values: Any) -> None:
        from rewardlab.train.config import build_config

        cfg = build_config(config_cls, config, values)
        _print_record(name, module.main(cfg))

    params = [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],  # noqa: UP045
                                default=typer.Option(None, "--config", help=(
                                    "YAML file with any of the settings below (flags given here override it).")))]
    params += [_parameter(field_name, info) for field_name, info in config_cls.model_fields.items()]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    summary = (module.__doc__ or "").strip().split("\n\n")[0]
    single = typer.Typer(add_completion=False)
    single.command(name, help=f"{summary}\n\n{(module.main.__doc__ or '').strip()}",
                   short_help=summary.split(".")[0])(run)
    return typer.main.get_command(single)


def _parameter(field_name: str, info: Any) -> inspect.Parameter:
    """One config field as a keyword-only typer option defaulting to None (= not given on the command line)."""
    flag = "--" + field_name.replace("_", "-")
    annotation = _strip_optional(info.annotation)
    help_text = info.description or ""
    if info.is_required():
        help_text += "  [required]"
    elif info.default not in (None, [], ()):
        help_text += f"  [default: {info.default}]"
    if annotation is bool:
        option = typer.Option(None, f"{flag}/--no-{flag[2:]}", help=help_text, show_default=False)
    else:
        option = typer.Option(None, flag, help=help_text, show_default=False)
        if typing.get_origin(annotation) is list:
            annotation = str  # comma-separated on the command line; the config splits it
    return inspect.Parameter(field_name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=Optional[annotation])  # noqa: UP045


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _print_record(name: str, record: dict[str, Any]) -> None:
    """The run's headline numbers (the full record is OUT/rewardlab_train.json)."""
    if not record:
        return  # a non-main process of a distributed run
    from rich.table import Table

    from rewardlab.progress import console

    table = Table(title=f"rewardlab train {name}", show_header=False)
    for key in ("eval", "reward_mean", "reward_std", "train_pairs", "train_samples", "eval_pairs",
                "eval_samples", "bad_records", "dropped_too_long", "truncated", "train_rows", "reward", "steps",
                "train_seconds", "pairs_per_second", "samples_per_second", "rows_per_second", "processes"):
        if key in record:
            value = record[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "none"
            table.add_row(key, _fmt(value))
    table.add_row("saved to", str(record["config"]["out"]))
    console.print(table)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
