"""A configuration composed of parts: every study and every recipe is one.

A composed config holds config parts (``config.parts``) plus its own fields, and sets its own
defaults for any of them in ``DEFAULTS`` (flat names), the way litgpt's recipes give the same
``TrainArgs`` their own defaults. Nothing in a composed config re-declares a part's setting.
Values may be given nested (``{"optimizer": {"learning_rate": 1e-3}}``) or flat
(``{"learning_rate": 1e-3}``): setting names are unique across a config's parts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, model_validator
from pydantic.fields import FieldInfo

from .base import Part


class Composed(Part):
    """Parts plus own fields; ``DEFAULTS`` sit below every value given."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _defaults_then_values(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return merge(cls, nest(cls, cls.defaults()), nest(cls, values))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """This config's own defaults for its parts' settings and its own, by flat name."""
        return dict(cls.DEFAULTS)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name, as JSON values."""
        dumped = self.model_dump(mode="json")
        out: dict[str, Any] = {}
        for name, (part, _) in flat_fields(type(self)).items():
            out[name] = dumped[part][name] if part else dumped[name]
        return out


def flat_fields(cls: type[BaseModel]) -> dict[str, tuple[str | None, FieldInfo]]:
    """Flat setting name → (the part holding it, or None for the config's own field; its field)."""
    out: dict[str, tuple[str | None, FieldInfo]] = {}
    for name, field in cls.model_fields.items():
        if is_part(cls, name):
            for inner, inner_field in field.annotation.model_fields.items():
                out[inner] = (name, inner_field)
        else:
            out[name] = (None, field)
    return out


def nest(cls: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Flat names (or their aliases) moved into their part; nested parts and unknown names kept as given."""
    fields = flat_fields(cls)
    aliases = {alias: name for name, (_, field) in fields.items() for alias in alias_names(field)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        # A part given whole (a dict) is that part, even where its name is also a setting's (engine.engine) or an
        # old name of one (a part "corpus" beside the alias --corpus of train_data).
        given_whole = is_part(cls, key) and isinstance(value, (dict, BaseModel))
        setting = key if given_whole else aliases.get(key, key)
        is_setting = setting in fields and not given_whole
        part = fields[setting][0] if is_setting else None
        if part is None:
            out[key] = value
        else:
            holder = out.setdefault(part, {})
            if isinstance(holder, dict):
                holder[key] = value
    return out


def merge(cls: type[BaseModel], low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, one level into the parts given as dicts; a setting given in ``high`` replaces what
    ``low`` says of it under another name (an alias) or in another form (its ``EXCLUSIVE`` partner)."""
    out = dict(low)
    for key, value in high.items():
        if is_part(cls, key) and isinstance(value, dict) and isinstance(out.get(key), dict):
            part = cls.model_fields[key].annotation
            names = canonical_names(part)
            partners = {name: set(group) for group in getattr(part, "EXCLUSIVE", ()) for name in group}
            inner = dict(out[key])
            for given in value:
                same = partners.get(names.get(given, given), {names.get(given, given)})
                for other in [k for k in inner if names.get(k, k) in same and k != given]:
                    del inner[other]
            out[key] = {**inner, **value}
        else:
            names = canonical_names(cls)
            for other in [k for k in out if k != key and k in names and names[k] == names.get(key)]:
                del out[other]
            out[key] = value
    return out


def alias_names(field: FieldInfo) -> list[str]:
    """The older names a setting still answers to (``validation_alias=AliasChoices(name, old, ...)``)."""
    choices = getattr(field.validation_alias, "choices", None) or []
    return [c for c in choices[1:] if isinstance(c, str)]


def canonical_names(part: type[BaseModel]) -> dict[str, str]:
    """Every name and alias of ``part``'s settings → the setting's name."""
    return {alias: name for name, field in part.model_fields.items() for alias in [name, *alias_names(field)]}


def is_part(cls: type[BaseModel], name: str) -> bool:
    """Whether ``name`` is a field of ``cls`` holding a config part."""
    field = cls.model_fields.get(name)
    return field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, Part)
