"""Every setting declared once: ``parts`` (data, tokenizer, model, optimizer, evaluation, engine,
execution, fit), ``studies`` (the study configs composing them), ``presets`` and ``load``."""
