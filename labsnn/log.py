"""labsnn's messages: one logger, ``logging.getLogger("labsnn")``.

labsnn gives it a handler of its own (``labsnn: <message>`` on the current
``sys.stderr``, INFO and above), so that its messages reach a terminal or a notebook
without set-up. To silence or redirect them, set the logger's level or replace its
handlers: ``logging.getLogger("labsnn").setLevel(logging.WARNING)``.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("labsnn")


class _CurrentStderr(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when it emits (pytest's
    capture and Jupyter both replace it after import)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


if not log.handlers:
    _handler = _CurrentStderr()
    _handler.setFormatter(logging.Formatter("labsnn: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False
