"""The results store: typed run records (``records``), the SQLite store (``store``) and its
schema migrations (``migrations``)."""
