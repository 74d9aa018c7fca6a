"""How a law turns a compute budget into a model size and a token count: C = D · FLOPs-per-token(N).

A law is only as good as the FLOP count it was fitted with. Under ``6N`` (Kaplan et al.)
FLOPs per token are 6·N. Under ``full`` (Hoffmann et al., Appendix F: attention, embeddings
and the LM head included) they depend on the architecture, so the law carries the FLOPs
per token of the models it was fitted on (the knots) and interpolates between them in
log-log space (linearly extrapolated past the ends); ``matmul`` (what the hardware executes,
``models.counts``) likewise. ``table`` is the same, with the knots read from a CSV's own C column
(C / D per model size). Every conversion C ↔ (N, D) in
``advise``, ``predict``, plots and reports goes through one of these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.counts import TRAIN_FLOPS_PER_PARAM_TOKEN
from ..errors import UsageError

CONVENTIONS = ("6N", "full", "matmul", "table")
DESCRIPTIONS = {
    "6N": "C = 6·N·D (Kaplan et al.)",
    "full": "C = D × FLOPs per token of the fitted models (Hoffmann et al.'s full count: attention, embeddings and LM head included)",
    "matmul": "C = D × FLOPs per token of the fitted models as the hardware executes them (every matmul weight, the head "
              "included, and the attention at the trained sequence length)",
    "table": "C = D × FLOPs per token read from the data's own C column (C / D per model size)",
}


@dataclass(frozen=True)
class FlopCount:
    """Training FLOPs per token as a function of N, in one convention (6N, or the full count by size)."""

    convention: str
    sizes: tuple[float, ...] = ()  # N of each knot, increasing
    per_token: tuple[float, ...] = ()  # training FLOPs per token at each knot

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise UsageError(f"unknown FLOP convention {self.convention!r}; choose one of {', '.join(CONVENTIONS)}")
        if self.convention != "6N" and not self.sizes:
            raise UsageError(f"the {self.convention!r} FLOP convention needs the FLOPs per token of at least one model size")

    def per_token_at(self, N):
        """Training FLOPs per token of a model with N (non-embedding) parameters."""
        N = np.asarray(N, dtype=float)
        if self.convention == "6N":
            return TRAIN_FLOPS_PER_PARAM_TOKEN * N
        log_n, log_f = np.log(self.sizes), np.log(self.per_token)
        if len(log_n) == 1:
            return np.exp(log_f[0] + (np.log(N) - log_n[0]))  # one size known: proportional to N
        x = np.log(N)
        inside = np.interp(x, log_n, log_f)
        low_slope = (log_f[1] - log_f[0]) / (log_n[1] - log_n[0])
        high_slope = (log_f[-1] - log_f[-2]) / (log_n[-1] - log_n[-2])
        out = np.where(x < log_n[0], log_f[0] + low_slope * (x - log_n[0]), inside)
        return np.exp(np.where(x > log_n[-1], log_f[-1] + high_slope * (x - log_n[-1]), out))

    def tokens(self, flops, N):
        """The tokens a budget buys for a model of N parameters."""
        return np.asarray(flops, dtype=float) / self.per_token_at(N)

    def flops(self, N, D):
        return self.per_token_at(N) * np.asarray(D, dtype=float)

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.convention]

    def as_dict(self) -> dict:
        out = {"convention": self.convention, "description": self.description}
        if self.sizes:
            out["knots"] = [{"N": n, "flops_per_token": f} for n, f in zip(self.sizes, self.per_token)]
        return out

    @classmethod
    def from_dict(cls, data) -> FlopCount:
        """A law file's ``flops``; files saved before conventions were recorded assumed 6N."""
        if data is None:
            return cls("6N")
        try:
            knots = data.get("knots", [])
            return knots_to_count(data["convention"], [k["N"] for k in knots], [k["flops_per_token"] for k in knots])
        except (KeyError, TypeError, AttributeError):
            raise UsageError("the law's 'flops' entry is malformed; save the fit again with isoflop fit --save") from None


def knots_to_count(convention: str, sizes, per_token) -> FlopCount:
    """A FlopCount from (N, FLOPs per token) pairs, one knot per distinct N (their median)."""
    if convention == "6N":
        return FlopCount("6N")
    sizes, per_token = np.asarray(sizes, dtype=float), np.asarray(per_token, dtype=float)
    if not (np.isfinite(sizes).all() and np.isfinite(per_token).all() and (sizes > 0).all() and (per_token > 0).all()):
        raise UsageError(f"the {convention!r} FLOP convention needs positive, finite N and FLOPs per token")
    unique = np.unique(sizes)
    return FlopCount(convention, tuple(float(n) for n in unique),
                     tuple(float(np.median(per_token[sizes == n])) for n in unique))
