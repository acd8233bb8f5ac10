"""A wait limit that looks at what already arrived before it blames the server for silence.

Every call is a greenlet of one thread. When one of them holds the loop for longer than a
stream's request_timeout, the stream's timer and the bytes its server sent meanwhile are due at
the same turn of the loop, and the timer can win: the stream's read-ahead greenlet has the bytes,
but the stream is told its server was silent. `Patience` gives the loop one more short turn
first, so that what arrived is handed over, and fails only if nothing was.
"""

import gevent

GRACE = 0.001  # seconds of the extra turn


class RanOut(BaseException):
    """Raised into the waiting greenlet when its Patience ran out (a BaseException, as
    gevent.Timeout is, so that no `except Exception` on the way swallows it)."""


class Patience:
    """A limit of `seconds` on the current greenlet's next waits, until `close()`."""

    def __init__(self, seconds: float) -> None:
        self.error = RanOut()
        self._loop = gevent.get_hub().loop
        self._greenlet = gevent.getcurrent()
        self._timer = self._loop.timer(max(seconds, GRACE))
        self._timer.start(self._last_turn)

    def _last_turn(self) -> None:
        self._timer.close()
        self._timer = self._loop.timer(GRACE)
        self._timer.start(self._greenlet.throw, self.error)

    def close(self) -> None:
        self._timer.close()
