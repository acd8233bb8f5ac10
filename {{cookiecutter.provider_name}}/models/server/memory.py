"""What servers told this process, kept within bounds of size and time.

The plugin remembers a few answers so that it does not ask again on every call: the optional
fields a server refused, whether it has a tokenizer endpoint. Such a memory is per process, and
Dify may run several replicas of the plugin behind one workspace, each with its own memory; the
server may be upgraded, or replaced behind the same URL. Remembered forever, a refusal would
keep one replica sending less than another long after the server changed. So every answer is
forgotten after `seconds` (and then asked once more), and at most `size` answers are kept, the
least recently used leaving first.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable


class Memory[K: Hashable, V]:
    """A thread-safe mapping that keeps at most `size` entries, each for at most `seconds`."""

    def __init__(self, size: int, seconds: float) -> None:
        self.size, self.seconds = size, seconds
        self.clock = time.monotonic  # a test may turn it
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value remembered for `key`, or None if there is none or it is too old."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() - entry[0] > self.seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V) -> None:
        """Remember `value` for `key` from now on, forgetting the least recently used if full."""
        with self._lock:
            self._entries[key] = (self.clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
