"""Top-n selection by heap sort with a judge instead of a key: the comparison primitive of PRP and setwise
stays in their modules, the sort lives here once."""

from __future__ import annotations

from collections.abc import Callable


def heap_top_n(count: int, children: int, best: Callable[[list[int]], int], top_n: int) -> list[int]:
    """The best `top_n` of positions 0..count-1, by popping a heap with `children` children per node; the rest
    follow in input order. `best(members)` names the winner of [node, its children...]."""
    heap = list(range(count))

    def sift_down(root: int, size: int) -> None:
        while True:
            first_child = children * root + 1
            if first_child >= size:
                return
            slots = [root] + list(range(first_child, min(first_child + children, size)))
            shown = [heap[s] for s in slots]
            winner = slots[shown.index(best(shown))]
            if winner == root:
                return
            heap[root], heap[winner] = heap[winner], heap[root]
            root = winner

    for root in range((count - 2) // children, -1, -1):
        sift_down(root, count)
    top: list[int] = []
    size = count
    while size > 0 and len(top) < top_n:
        top.append(heap[0])
        size -= 1
        heap[0] = heap[size]
        sift_down(0, size)
    chosen = set(top)
    return top + [i for i in range(count) if i not in chosen]
