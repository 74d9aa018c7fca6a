"""A law to predict or advise from: a published one by name, or a fit saved by ``isoflop fit --save``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UnreliableResult, UsageError, first_line
from .allocation_law import AllocationLaw
from .chinchilla import ChinchillaLaw
from .constrained import DataConstrainedLaw
from .finetune import FinetuneLaw
from .flops import FlopCount
from .published import PUBLISHED


@dataclass(frozen=True)
class LoadedLaw:
    """A law read back from a fit's JSON (or a published one), with the conventions it was fitted in."""

    label: str
    law: ChinchillaLaw | None  # L(N, D) of approach 3 (or the base of a data-constrained fit)
    constrained: DataConstrainedLaw | None  # L(N, D, U)
    allocation: dict | None  # an approach 1/2 fit: N*(C), its minima and frontier
    count: FlopCount
    fitted_range: dict | None
    problems: list[str]
    forecast: AllocationLaw | None = None  # approach 2's forecasting law (saved since format 1 of its block)
    finetune: FinetuneLaw | None = None  # a fine-tuning law L(D)

    @classmethod
    def of(cls, law: ChinchillaLaw | DataConstrainedLaw, count: FlopCount | None = None, label: str = "law") -> LoadedLaw:
        """A law held in memory, counted under ``count`` (6N by default)."""
        constrained = law if isinstance(law, DataConstrainedLaw) else None
        return cls(label, law.chinchilla if constrained else law, constrained, None, count or FlopCount.from_dict(None), None, [])

    def repetition_notes(self, unique_tokens: float | None) -> list[str]:
        """How ``predictor`` treats repeated tokens, when that is a choice made for the user."""
        if unique_tokens is None or self.constrained is not None:
            return []
        return [f"this law has no repetition terms: D is capped at U = {unique_tokens:.3g}, i.e. repeated tokens count "
                "as worthless (a pessimistic prediction); use --law datablations, or fit runs that repeat data, to value them"]

    def predictor(self, unique_tokens: float | None):
        """(N, D) → loss and (N, D) → 95% interval or None, for data with ``unique_tokens`` unique tokens."""
        if self.constrained is not None and (unique_tokens is not None or self.law is None):
            law = self.constrained
            return (lambda n, d: law.loss(n, d, unique_tokens)), (lambda n, d: law.loss_interval(n, d, unique_tokens))
        if self.law is None:
            raise UsageError(f"{self.label} holds N*(C) only, no L(N, D); fit one with isoflop fit --approach 3 --save")
        law = self.law
        cap = (lambda d: d) if unique_tokens is None else (lambda d: np.minimum(d, unique_tokens))
        return (lambda n, d: law.loss(n, cap(d))), (lambda n, d: law.loss_interval(n, cap(d)))


def load_law(spec: str, force: bool = False) -> LoadedLaw:
    """``spec``: a published law's name (``PUBLISHED``) or the path of a saved fit."""
    if spec in PUBLISHED:
        published = PUBLISHED[spec]
        return LoadedLaw.of(published.law, label=f"{spec} ({published.source})")
    path = Path(spec)
    if not path.suffix and not path.exists():
        raise UsageError(f"unknown law {spec!r}: give one of {', '.join(PUBLISHED)} or a fit saved by isoflop fit --save")
    saved = _read_json(path)
    if saved.get("approach") == "finetune":
        try:
            return LoadedLaw(spec, None, None, None, FlopCount.from_dict(None), None, [],
                             finetune=FinetuneLaw.from_dict(saved["finetune"]))
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{spec} holds no complete fine-tuning law ({first_line(error)}); save one with "
                             "isoflop fit --approach finetune --save") from None
    if "law" not in saved and "N_opt" not in saved and "constrained" not in saved:
        raise UsageError(f"{spec} holds no fitted law; save one with isoflop fit --save")
    problems = [str(p) for p in saved.get("problems") or []]
    if problems and not force:
        raise UnreliableResult(f"{spec} was saved as unreliable ({'; '.join(problems)}); "
                               "refit on better data, or pass --force to use it anyway")
    fitted = saved.get("range")
    if fitted is not None and not _valid_range(fitted):
        raise UsageError(f"{spec}: its 'range' is not a mapping of N, D, C to [low, high]; save the fit again with isoflop fit --save")
    try:
        law = ChinchillaLaw.from_dict(saved["law"]) if "law" in saved else None
        constrained = DataConstrainedLaw.from_dict(saved["constrained"]) if "constrained" in saved else None
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{spec} holds no complete L(N, D) law ({first_line(error)}); save one with isoflop fit --save") from None
    allocation = saved if law is None and constrained is None else None
    forecast = None
    if allocation is not None and "forecast" in saved:
        try:
            forecast = AllocationLaw.from_dict(saved["forecast"])
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{spec}: its forecast block is incomplete ({first_line(error)}); save the fit again with "
                             "isoflop fit --save") from None
    return LoadedLaw(spec, law if law is not None or constrained is None else constrained.chinchilla, constrained,
                     allocation, FlopCount.from_dict(saved.get("flops")), fitted, problems, forecast)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"fit file {str(path)!r} does not exist; give a file saved by isoflop fit --save "
                         f"or a published law: {', '.join(PUBLISHED)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"fit file {str(path)!r} is not JSON ({first_line(error)})") from None
    except OSError as error:
        raise UsageError(f"fit file {str(path)!r} cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise UsageError(f"fit file {str(path)!r} holds no fit (a JSON object is expected)")
    return data


def _valid_range(fitted) -> bool:
    return isinstance(fitted, dict) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair) for pair in fitted.values()
    )
