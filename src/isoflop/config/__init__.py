"""Every setting declared once: ``parts`` (the parts every command composes), ``fit`` (the fit part),
``engines`` (the engines and their options), ``compose`` (a config of parts with its own defaults),
``studies``, ``recipes`` and ``tools`` (the composed configs), ``presets`` and ``load``."""
