"""Model specs and their arithmetic (pure, ``specs``) and building HF models (``build``)."""
