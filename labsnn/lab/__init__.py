"""The lab's experiments, as the notebooks use them (``from labsnn import lab``).

Submodules: run planning (``profiles``, ``preflight``), findings and tables read from results (``findings``,
``discussion``), the source report's claims (``claims``), figures (``figures``, ``raster``), the report (``report`` and
its helpers) and section 4.4's search for the training setup the source report left unstated (``setup_search``: the
declared grid, its runs and the screening that picks a setup; ``setup_findings``: what the search found, in tables and
words). "The source report" is the lab report being reproduced; "seed" always means a random seed. They hold no
training logic; the notebooks hold none either.
"""

import lazy_loader as _lazy

# imported on first use (the names and submodules of __init__.pyi): the command line's checks
# import labsnn.lab.preflight before torch
__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
