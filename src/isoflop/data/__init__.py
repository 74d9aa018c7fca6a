"""Text sources, chunking rules and token-window preparation."""
