"""gan_lab.lru: the one least-recently-used cache (previews, the render process's renderers)."""

from gan_lab.lru import LRU


def test_lru_keeps_the_most_recently_used_entries():
    c = LRU(2)
    c["a"], c["b"] = 1, 2
    assert c.get("a") == 1            # a use: "b" is now the oldest
    c["c"] = 3
    assert list(c) == ["a", "c"] and c.get("b") is None and c.get("b", 0) == 0
    c["a"] = 4                        # setting again is a use too
    c["d"] = 5
    assert dict(c) == {"a": 4, "d": 5}
