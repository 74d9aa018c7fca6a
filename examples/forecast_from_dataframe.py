"""Fit an isoFLOP ladder held in a pandas DataFrame and forecast a budget nobody trained.

    python examples/forecast_from_dataframe.py [LADDER.csv]

Without an argument the ladder is simulated (Chinchilla's law plus run noise, 5 budgets × 7 sizes), so
the example runs offline anywhere; with a CSV of columns N, D, C and loss it fits that ladder instead.
"""

import sys

import numpy as np
import pandas as pd

from isoflop.fit import Points, fit_ladder


def simulated_ladder(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for budget in (1e18, 3e18, 1e19, 3e19, 1e20):
        optimum = 0.0912 * budget**0.5
        for N in optimum * np.geomspace(0.25, 4, 7):
            D = budget / (6 * N)
            loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28 + rng.normal(0, 0.01)
            rows.append({"params": N, "tokens": D, "flops": budget, "loss": loss})
    return pd.DataFrame(rows)


frame = pd.read_csv(sys.argv[1]) if len(sys.argv) > 1 else simulated_ladder()
columns = {"N": "N", "D": "D", "C": "C"} if len(sys.argv) > 1 else {"N": "params", "D": "tokens", "C": "flops"}

# The whole fit and forecast: three lines.
law = fit_ladder(Points.from_frame(frame, loss="loss", **columns))
forecast = law.predict(1e21)
print(forecast.describe())
print("how the interval was made:", forecast.method)
print(law.optimal_size(1e21).describe())
print(law.summary())
