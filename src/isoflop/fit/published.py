"""Published scaling laws, loadable by name wherever a fitted law file is accepted.

All three count compute as C = 6ND and parameters without embeddings, as their papers do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .chinchilla import ChinchillaLaw
from .constrained import DataConstrainedLaw


@dataclass(frozen=True)
class PublishedLaw:
    """A law from the literature, by name, with its parameters, units and source."""

    name: str
    law: ChinchillaLaw | DataConstrainedLaw
    source: str


# Muennighoff et al. (2023), the datablations repository's fitted values (a, b, e are logarithms).
_DATABLATIONS = {"a": 6.255414, "b": 7.3049974, "e": 0.6254804, "alpha": 0.3526596, "beta": 0.3526596,
                 "R_D_star": 15.387756, "R_N_star": 5.309743}

PUBLISHED: dict[str, PublishedLaw] = {
    "chinchilla": PublishedLaw(
        "chinchilla", ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28),
        "Hoffmann et al. (2022), approach 3 (their eq. 10)",
    ),
    "epoch": PublishedLaw(
        "epoch", ChinchillaLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658),
        "Besiroglu et al. (2024), Epoch AI's replication of approach 3",
    ),
    "datablations": PublishedLaw(
        "datablations",
        DataConstrainedLaw(
            E=math.exp(_DATABLATIONS["e"]), A=math.exp(_DATABLATIONS["a"]), B=math.exp(_DATABLATIONS["b"]),
            alpha=_DATABLATIONS["alpha"], beta=_DATABLATIONS["beta"], r_d_star=_DATABLATIONS["R_D_star"],
            r_n_star=_DATABLATIONS["R_N_star"], base="published",
        ),
        "Muennighoff et al. (2023), the data-constrained law of the datablations repository",
    ),
}
