"""Click options generated from config fields: each setting is declared once, in its config part."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..config.compose import alias_names, flat_fields


CONFIG_FILE = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                           help="YAML/TOML/JSON config file (flat or nested by part; options given here win)")


def config_options(config: type[BaseModel], leave_out: tuple[str, ...] = ()):
    """One option per flat setting of a composed config (a study, a recipe), its default shown as the config sets it;
    ``leave_out``: settings the command takes in another form."""
    defaults = config().flat()
    fields = flat_fields(config)
    # The config's own settings (its model, budget, grid) first, then the parts'.
    own = [name for name in fields if fields[name][0] is None and name in config.__annotations__]
    order = [name for name in own + [name for name in fields if name not in own] if name not in leave_out]
    return _options([(name, fields[name][1], defaults[name]) for name in order])


def part_options(part: type[BaseModel], only: tuple[str, ...] | None = None, strip: str = ""):
    """One option per field of ``part`` (or the ``only`` ones), with the part's own defaults; ``strip``: a prefix the
    field names carry to stay unique among a study's parts, left out of the flags (``fit_seed`` → ``--seed``)."""
    return _options([(name, field, field.get_default(call_default_factory=True))
                     for name, field in part.model_fields.items() if only is None or name in only], strip)


def _options(fields: list[tuple[str, FieldInfo, Any]], strip: str = ""):
    def decorate(command):
        for name, field, default in reversed(fields):
            flag = "--" + name.removeprefix(strip).replace("_", "-")
            # A setting's older names stay accepted (a renamed flag must not break a user's command line).
            old = ["--" + alias.replace("_", "-") for alias in alias_names(field)]
            # A None default means what the description says (e.g. "default: the model's own").
            help_text = field.description if default in (None, ()) else f"{field.description} [default: {_shown(default)}]"
            if field.annotation is bool or field.annotation == bool | None:
                # A pair, so that a setting on by default can be turned off: --x / --no-x.
                option = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
            elif _is_axes(field.annotation):
                # Repeated, one axis each: --grid weight_decay=0,0.1 --grid dropout=0,0.1.
                option = click.option(flag, name, type=Axis(), multiple=True, callback=_axes, help=help_text)
            else:
                option = click.option(flag, *old, name, type=_click_type(field.annotation, _old_values(field)), default=None,
                                      help=help_text)
            command = option(command)
        return command

    return decorate


def _is_axes(annotation) -> bool:
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is dict and len(args) == 2 and typing.get_origin(args[1]) is tuple


def _axes(ctx, param, given: tuple[tuple[str, tuple[float, ...]], ...]):
    """The repeated ``--grid`` values as one mapping (None: not given); an axis named twice is refused."""
    if not given:
        return None
    names = [name for name, _ in given]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise click.BadParameter(f"the axis {', '.join(twice)} is given twice; list all its values in one --grid", ctx, param)
    return dict(given)


def _old_values(field: FieldInfo) -> list[str]:
    """Old names of renamed values (``keyed_as``), still accepted on the command line."""
    extra = field.json_schema_extra
    return list(extra.get("keyed_as", {}).values()) if isinstance(extra, dict) else []


def _click_type(annotation, old_values: list[str] = ()):
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _click_type(args[0], old_values)
    if origin is Literal:
        return click.Choice([str(a) for a in args] + list(old_values))
    if origin is tuple:
        return CommaList(args[0])
    if origin is dict:
        return CommaMapping()
    return {int: click.INT, float: click.FLOAT}.get(annotation, click.STRING)


class CommaList(click.ParamType):
    """``1,2,5`` → (1, 2, 5)."""

    name = "LIST"

    def __init__(self, item_type):
        self.item_type = item_type

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return tuple(_number(self.item_type, part.strip()) for part in str(value).split(",") if part.strip())
        except ValueError:
            kind, example = ("whole numbers", "1,2,5") if self.item_type is int else ("numbers", "1e18,1e19,1e20")
            self.fail(f"{value!r}: give {kind} separated by commas, e.g. {example}", param, ctx)


class CommaMapping(click.ParamType):
    """``25m=1e-3,50m=6e-4`` → {"25m": 0.001, "50m": 0.0006}; ``none`` → {}."""

    name = "NAME=VALUE,..."

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        if str(value).strip().lower() in ("", "none"):
            return {}
        try:
            pairs = [part.split("=", 1) for part in str(value).split(",") if part.strip()]
            return {key.strip(): float(number) for key, number in pairs}
        except ValueError:
            self.fail(f"{value!r} is not a list of NAME=NUMBER pairs", param, ctx)


class Axis(click.ParamType):
    """``weight_decay=0,0.1,1`` → ("weight_decay", (0.0, 0.1, 1.0))."""

    name = "FIELD=V1,V2,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, equals, values = str(value).partition("=")
        try:
            numbers = tuple(float(part) for part in values.split(",") if part.strip())
        except ValueError:
            numbers = None
        if not equals or not name.strip() or numbers is None:
            self.fail(f"{value!r}: give an axis as FIELD=V1,V2,... with numbers, e.g. weight_decay=0,0.1,1", param, ctx)
        return name.strip(), numbers


def _number(item_type, text: str):
    # Budgets are written 3e11; an int list takes whole numbers only.
    return float(text) if item_type is float else item_type(text)


def _shown(default: Any) -> str:
    if isinstance(default, (tuple, list)):
        return ",".join(str(v) for v in default)
    if isinstance(default, dict):
        return ",".join(f"{k}={v}" for k, v in default.items()) or "none"
    return str(default)
