"""Scaling-law fits on plain arrays (numpy/scipy only): approaches 1, 2 and 3 of Hoffmann et al.
(2022), the compute frontier, the data-constrained law of Muennighoff et al. (2023) and the rectified
fine-tuning law of Lin et al. (2024), with forecasts whose intervals say how they were made.

The public API (each fitter returns a result object with ``predict``, ``summary`` and ``to_dict``)::

    from isoflop.fit import Points, fit_ladder
    law = fit_ladder(Points.from_frame(df, N="params", D="tokens", loss="loss", C="flops"))
    law.predict(1e21)                     # a Forecast: value, interval, level, kind, method, conventions

- ``fit_ladder(points)`` / ``fit_allocation(N, D, loss, budgets)`` / ``fit_minima(C, N_opt, loss)`` → ``AllocationLaw``
  (approach 2: ``predict(C, kind)``, ``optimal_size(C)``, ``optimal_tokens(C)``, ``loss_at(N, C)``);
- ``fit_loss_law(points)`` → ``LossLaw`` (approach 3's L(N, D): ``predict(N, D)``, ``summary()``);
- ``fit_constrained(N, D, U, loss)`` → ``ConstrainedLaw`` (Muennighoff et al.'s data-constrained law);
- ``fit_finetune(samples, loss)`` → ``FinetuneLaw`` (``predict(D, kind)``);
- every ``predict`` returns a ``Forecast``; every law has ``to_dict()`` and ``from_dict()``.
"""

from .allocation_law import AllocationLaw, fit_allocation, fit_ladder, fit_minima
from .chinchilla import ChinchillaLaw as LossLaw
from .chinchilla import fit_loss_law
from .constrained import DataConstrainedLaw as ConstrainedLaw
from .constrained import fit_constrained
from .finetune import FinetuneLaw, fit_finetune
from .forecast import Extrapolator, Forecast
from .table import FitTable as Points

__all__ = ["AllocationLaw", "ConstrainedLaw", "Extrapolator", "FinetuneLaw", "Forecast", "LossLaw", "Points",
           "fit_allocation", "fit_constrained", "fit_finetune", "fit_ladder", "fit_loss_law", "fit_minima"]
