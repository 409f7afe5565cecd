"""A dict that keeps its `size` most recently used entries (the previews of jobs/preview.py, the
render process's figure renderers). Not thread-safe: a shared one is used under its owner's lock."""

from __future__ import annotations

from collections import OrderedDict


class LRU(OrderedDict):
    """get() and setting a key count as a use; past `size` entries the least recently used go."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
