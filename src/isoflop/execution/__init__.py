"""Where packs of runs are trained: ``base`` (the interface and the executors by name) and
``inprocess`` (this process, one pack after another)."""
