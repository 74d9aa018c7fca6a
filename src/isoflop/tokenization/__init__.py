"""Resolving tokenizer specs: ``gpt2`` offline, ``bytes``, local folders, Hub names."""
