"""Building a study config: defaults < study defaults < preset < file < overrides, validated once."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import UsageError, first_line
from .base import Part
from .presets import PRESETS
from .compose import Composed, merge, nest
from .studies import STUDIES, StudyConfig


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    kind: str | type[StudyConfig] = "scarcity",
) -> StudyConfig:
    """The validated config of a ``kind`` study; settings may be flat or nested by part."""
    study = STUDIES[kind] if isinstance(kind, str) else kind
    return build_composed(study, config_file, overrides, preset, PRESETS[study.kind])


def build_composed(
    cls: type[Composed],
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    preset: str | None = None,
    presets: dict[str, dict[str, Any]] | None = None,
) -> Composed:
    """Any composed config (a study, a recipe, a tool's settings): its defaults < preset < file < overrides (None:
    not given), validated once; a problem is one line."""
    file_values = _read_config_file(Path(config_file)) if config_file else {}
    preset = preset or file_values.pop("preset", None)
    file_values.pop("preset", None)
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in (presets or {}):
            choices = ", ".join(presets or {}) or "none (this command has no presets)"
            raise UsageError(f"unknown preset {preset!r}; choose one of: {choices}")
        values = nest(cls, presets[preset])
    values = merge(cls, values, nest(cls, file_values))
    values = merge(cls, values, nest(cls, {k: v for k, v in (overrides or {}).items() if v is not None}))
    try:
        return cls(**values)
    except ValidationError as error:
        raise UsageError(f"invalid configuration: {describe(error)}") from None


def build_part(part: type[Part], values: dict[str, Any], strip: str = "") -> Part:
    """A config part from a command's options (None: not given, the part's default), validated once; a problem is
    one line naming the option (its flag without ``strip``, the prefix ``options.part_options`` left out)."""
    try:
        return part(**{name: value for name, value in values.items() if value is not None})
    except ValidationError as error:
        raise UsageError(f"invalid options: {describe(error, flag_of=lambda name: '--' + name.removeprefix(strip).replace('_', '-'))}") from None


def describe(error: ValidationError, flag_of=None) -> str:
    """Every problem as ``setting: message``, with the flat setting name the user typed (or ``flag_of`` it)."""
    parts = []
    for problem in error.errors():
        names = [str(p) for p in problem["loc"] if not isinstance(p, int)]
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        # A check across settings (no location) names the settings in its own message.
        name = (flag_of or str)(names[-1]) if names else None
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise UsageError(f"config file {str(path)!r}: use .yaml, .yml, .toml or .json")
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"config file {str(path)!r} cannot be parsed: {first_line(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {str(path)!r} must hold a mapping of settings")
    return {key.replace("-", "_"): _dashes_to_underscores(value) for key, value in data.items()}


def _dashes_to_underscores(value: Any) -> Any:
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k.replace("-", "_"): v for k, v in value.items()}
    return value
