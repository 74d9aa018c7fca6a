"""Reports from plain run records: a document model (``document``) built per study kind
(``scarcity``, ``isoflops``), rendered to markdown and HTML (``markdown``, ``html``, ``write``),
with plots (``plots``) and per-kind run tables (``tables``)."""
