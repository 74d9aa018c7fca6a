"""The base of every configuration part: strict, frozen, finite.

A field may carry two markers in ``json_schema_extra``:

* ``grid`` — a study's grid axis (D values, seeds, budgets): changing it adds or drops
  runs of the same study;
* ``identity: False`` — a setting that cannot change any number a run produces (where
  results are written, how many runs share a pack): it is left out of run keys;
* ``keyed_when_set`` — a setting added after results were stored, whose default (None) means
  what runs did before it existed: left out of run keys while unset, so existing folders keep
  their keys and resume without retraining;
* ``keyed_as`` — a renamed value (``{new: old}``): run keys keep the name the value was stored under.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo


class Part(BaseModel):
    """One group of settings, declared once with a description (and unit) per field."""

    # allow_inf_nan=False: a learning rate or budget of inf/NaN is a mistake, never a setting.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def marker(field: FieldInfo, name: str, default=None):
    """The value of marker ``name`` in a field's ``json_schema_extra`` (``default`` when absent)."""
    extra = field.json_schema_extra
    return extra.get(name, default) if isinstance(extra, dict) else default


def is_grid(field: FieldInfo) -> bool:
    """Whether a setting is a study's grid axis (changing it adds or drops runs of the same study)."""
    return bool(marker(field, "grid", False))


def keyed_value(field: FieldInfo, value):
    """``value`` as run keys name it (a renamed value keeps its old name there)."""
    return marker(field, "keyed_as", {}).get(value, value) if isinstance(value, str) else value


def in_identity(field: FieldInfo, value=None) -> bool:
    """Whether a setting (at ``value``) belongs in run keys."""
    if marker(field, "keyed_when_set", False) and value is None:
        return False
    return bool(marker(field, "identity", True)) and not is_grid(field)


# numpy's legacy seeding (used by transformers' set_seed) takes seeds below 2**32: the bound of every seed setting.
MAX_SEED = 2**32 - 1

GRID = {"grid": True}
NOT_IDENTITY = {"identity": False}
KEYED_WHEN_SET = {"keyed_when_set": True}
