"""Every setting declared once: ``parts`` (data, tokenizer, model, optimizer, evaluation, engine,
execution; the fit part is ``fit.settings.FitConfig``, beside the fits it configures), ``studies`` (the study configs composing them), ``presets`` and ``load``."""
