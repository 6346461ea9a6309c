"""The chain facts local-state-query answers, read from a `ChainStore`."""

from __future__ import annotations

from .chain import ChainStore
from .local_state_query import ChainTip
from .txwire import ChainPoint


class StoreView:
    """A `ChainView` over a chain store: the tip, the immutable tip `k` blocks behind it, block numbers."""

    def __init__(self, chain: ChainStore) -> None:
        self.chain = chain

    def _at(self, index: int) -> ChainTip:
        return (None, None) if index < 0 else (self.chain.point(index), self.chain.block_no(index))

    def tip(self) -> ChainTip:
        return self._at(len(self.chain) - 1)

    def immutable_tip(self) -> ChainTip:
        return self._at(len(self.chain) - 1 - self.chain.k)

    def block_no_at(self, point: ChainPoint) -> int | None:
        index = self.chain.index_of(point)
        return None if index is None or index < 0 else self.chain.block_no(index)

    def era_at(self, point: ChainPoint | None) -> int:
        index = self.chain.index_of(point)  # -1 for the origin
        if index is None or index < 0:  # the origin (or a point no longer on the chain): where it starts
            return self.chain.era_index(0) if len(self.chain) else 0
        return self.chain.era_index(index)
