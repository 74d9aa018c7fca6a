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
            _refuse_idle_options(config, candidate.name)
            return engine
        reasons.append(f"{candidate.name}: {reason}")
    raise UsageError(f"no engine can train this study ({'; '.join(reasons)})")


def _refuse_idle_options(config, chosen: str) -> None:
    """An option of another engine than the one ``auto`` chose would do nothing: refuse it before anything runs."""
    from ..errors import UsageError

    for other in ENGINES:
        for name, field in other.options.model_fields.items():
            if other.name != chosen and getattr(config, name) != field.default:
                flag = name.replace("_", "-")
                raise UsageError(f"--{flag} is an option of the {other.name} engine, but --engine auto chose the {chosen} "
                                 f"engine for this study, where it would do nothing; add --engine {other.name}, or drop it")
