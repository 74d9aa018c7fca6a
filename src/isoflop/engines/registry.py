"""Choosing the engine that trains a study: the one asked for, or what ``auto`` picks (declared in
``config.engines``)."""

from __future__ import annotations

from ..config.engines import AUTO, ENGINES, entry


def select_engine(config, models: list[str], vocab_size: int):
    """The engine that will train a study of ``models``: the one asked for, or for ``auto`` the first that supports it.

    Refusals are UsageErrors raised before anything is written, with the engine's reason.
    """
    from ..errors import UsageError

    if config.engine != AUTO:
        engine = entry(config.engine).load()(config)
        reason = engine.supports(models, vocab_size)
        if reason is not None:
            raise UsageError(f"the {config.engine} engine cannot train this study: {reason}; choose another --engine")
        return engine
    reasons = []
    for candidate in ENGINES:
        engine = candidate.load()(config)
        reason = engine.supports(models, vocab_size)
        if reason is None:
            return engine
        reasons.append(f"{candidate.name}: {reason}")
    raise UsageError(f"no engine can train this study ({'; '.join(reasons)})")
