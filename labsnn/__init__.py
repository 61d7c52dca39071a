"""labsnn: the spiking-neural-network lab 1 as a small, tested PyTorch package.

The names of ``__init__.pyi`` are imported on first use (``lazy_loader``, SPEC 1), so that
``python -m labsnn`` can check its arguments before it imports torch.
"""

import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
