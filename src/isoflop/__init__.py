"""isoflop: compute-budgeted language-model training studies on Hugging Face models.

The public API: build a study config (``build_config``, or ``ScarcityConfig(...)``,
``IsoflopsConfig(...)``), run it (``run_study``), and fit laws from the results
(``isoflop.fit``). Heavy libraries load only when a study runs.
"""

from .budget import Budget
from .config.load import build_config
from .config.presets import PRESETS
from .config.studies import IsoflopsConfig, ScarcityConfig
from .errors import UsageError


def run_study(config, **kwargs):
    """Run any study config (see ``isoflop.studies.runner.run_study``)."""
    from .studies.runner import run_study as run

    return run(config, **kwargs)


__all__ = ["PRESETS", "Budget", "IsoflopsConfig", "ScarcityConfig", "UsageError", "build_config", "run_study"]
