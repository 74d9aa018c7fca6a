"""Scaling-law fits on plain arrays (numpy/scipy only): approaches 1, 2 and 3 of Hoffmann et al.
(2022), the compute frontier, the data-constrained law of Muennighoff et al. (2023) and the rectified
fine-tuning law of Lin et al. (2024), with forecasts whose intervals say how they were made.

The public API (each fitter returns a result object with ``predict``, ``summary`` and ``to_dict``)::

    from isoflop.fit import Points, fit_ladder
    law = fit_ladder(Points.from_frame(df, N="params", D="tokens", loss="loss", C="flops"))
    law.predict(1e21)                     # a Forecast: value, interval, level, kind, method, conventions
"""

from .allocation_law import AllocationLaw, fit_allocation, fit_ladder, fit_minima
from .finetune import FinetuneLaw, fit_finetune
from .forecast import Extrapolator, Forecast
from .table import FitTable as Points

__all__ = ["AllocationLaw", "Extrapolator", "FinetuneLaw", "Forecast", "Points", "fit_allocation", "fit_finetune",
           "fit_ladder", "fit_minima"]
