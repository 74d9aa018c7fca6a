"""isoflop: compute-budgeted language-model training studies on Hugging Face models."""

from .budget import Budget
from .errors import UsageError
from .studies.config import PRESETS, ScarcityConfig, build_config
from .studies.scarcity import prepare, run_study

__all__ = ["PRESETS", "Budget", "ScarcityConfig", "UsageError", "build_config", "prepare", "run_study"]
