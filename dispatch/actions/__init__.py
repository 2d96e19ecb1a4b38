"""What each workflow action does beyond moving the status, by concern.

Each module lists its handlers in ``HANDLERS`` (action name -> function
taking the ``dispatch.change.Change`` and returning the event payload);
``HANDLERS`` here combines them.  ``TicketService.act`` looks an action up
here (or among the adapters' handlers the composition root gives it), and
tests/test_wiring.py checks every ``TRANSITIONS`` entry has one or is
``record_only``.
"""
from __future__ import annotations

from typing import Callable, Mapping

from dispatch.actions import callback, dispatching, extension, handling, merge, supervision

Handler = Callable[..., dict]

HANDLERS: Mapping[str, Handler] = {
    **dispatching.HANDLERS, **handling.HANDLERS, **extension.HANDLERS, **callback.HANDLERS,
    **merge.HANDLERS, **supervision.HANDLERS,
}
