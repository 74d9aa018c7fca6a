"""Engines train one pack of runs on one machine: ``base`` (the interface), ``registry``
(names, options, loading), ``reference`` (the HF Trainer) and ``batched`` (lock-step packs)."""
