"""Studies: each kind supplies a pure plan (``scarcity``, ``isoflops``) and a report; ``runner``
does the rest for every kind; ``registry`` names them."""
