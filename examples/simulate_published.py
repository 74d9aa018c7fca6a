"""Write the two simulated examples: runs whose true loss is a published law, plus seeded noise.

No freely licensed table of real runs identifies approach 3 or the data-constrained law (the isoFLOP ladders we may
ship are too small or too noisy: `isoflops-default.csv` is refused with its reasons), so these two files draw runs
from the published laws themselves. Because the truth is known, each also checks the fit: its intervals should cover
the published parameters (tests/test_examples.py asserts it).

- ``chinchilla-simulated.csv``: Hoffmann et al.'s approach-3 law (E = 1.69, A = 406.4, B = 410.7, α = 0.34,
  β = 0.28) on an isoFLOP design like theirs: 8 budgets from 6e18 to 3e21 FLOPs, 9 sizes per budget spread ±1 decade
  around the budget's optimum, D = C / 6N.
- ``datablations-simulated.csv``: Muennighoff et al.'s data-constrained law (the datablations repository's fit) on a
  design like theirs: 3 unique-token budgets U (100M, 400M, 1.5B), 4 model sizes each, 1 to 64 epochs.

Noise: each loss gets a normal error of sd 0.01 nats, an assumed run-to-run spread fixed before any fit was run.
Re-create both byte for byte with ``python examples/simulate_published.py``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from isoflop.fit.published import PUBLISHED

NOISE_SD = 0.01  # nats
SEED = 2022
HERE = Path(__file__).resolve().parent

CHINCHILLA_BUDGETS = (6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 1e21, 3e21)
SIZES_PER_BUDGET = 9
DATABLATIONS_UNIQUE = (1e8, 4e8, 1.5e9)
DATABLATIONS_SIZES = {1e8: (1.4e7, 4.2e7, 8.7e7, 2.2e8), 4e8: (8.7e7, 2.2e8, 6.2e8, 1.1e9),
                      1.5e9: (2.2e8, 6.2e8, 1.1e9, 2.8e9)}
EPOCHS = (1, 2, 4, 8, 16, 32, 64)


def chinchilla_rows(rng: np.random.Generator) -> list[dict]:
    law = PUBLISHED["chinchilla"].law
    rows = []
    for budget in CHINCHILLA_BUDGETS:
        optimum = law.optimal(budget)[0]
        for N in optimum * np.logspace(-1, 1, SIZES_PER_BUDGET):
            D = budget / (6 * N)
            loss = float(law.loss(N, D)) + rng.normal(0, NOISE_SD)
            rows.append({"N": f"{N:.4g}", "D": f"{D:.4g}", "C": f"{budget:.4g}", "loss": f"{loss:.5f}"})
    return rows


def datablations_rows(rng: np.random.Generator) -> list[dict]:
    law = PUBLISHED["datablations"].law
    rows = []
    for unique in DATABLATIONS_UNIQUE:
        for N in DATABLATIONS_SIZES[unique]:
            for epochs in EPOCHS:
                D = unique * epochs
                loss = float(law.loss(N, D, unique)) + rng.normal(0, NOISE_SD)
                rows.append({"N": f"{N:.4g}", "D": f"{D:.4g}", "U": f"{unique:.4g}", "loss": f"{loss:.5f}"})
    return rows


def as_csv(rows: list[dict]) -> str:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write(folder: Path = HERE) -> list[Path]:
    """Both files into ``folder``; the same bytes on every call."""
    rng = np.random.default_rng(SEED)
    paths = []
    for name, rows in (("chinchilla-simulated.csv", chinchilla_rows(rng)),
                       ("datablations-simulated.csv", datablations_rows(rng))):
        path = folder / name
        path.write_text(as_csv(rows), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write():
        print(f"wrote {written}")
