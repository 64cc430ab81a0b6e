"""The bundled ``tiny_test`` space (14 candidates: real ids, routes, FLOPs and params) with
made-up top-1 values, shared by the search, distributed and atomic-write tests.

Import the fixtures by name: ``from support.tiny import costs, space  # noqa: F401 - fixtures``.
"""

import pytest

from stitchnas.measure import Measurement
from stitchnas.costs import Profiler
from stitchnas.space import load_space

# made-up top-1 (%) of every tiny_test candidate; ids 0 and 1 are the anchors s and l
ACC = {0: 70.0, 1: 80.0, 2: 71.5, 3: 73.0, 4: 75.5, 5: 78.0, 6: 76.0, 7: 72.5, 8: 69.0,
       9: 71.0, 10: 74.0, 11: 77.5, 12: 79.0, 13: 76.5}
MEASURED = (0, 1, 2, 5, 8, 11)


@pytest.fixture(scope="module")
def space():
    return load_space("tiny_test")


@pytest.fixture(scope="module")
def costs(space):
    return {c.id: c for c in Profiler(space, progress=False).profile()}


def row(space, costs, i: int, acc1: float | None = None) -> Measurement:
    """A measurement of candidate ``i``: top-1 from :data:`ACC` unless ``acc1`` is given."""
    return Measurement(id=i, route=costs[i].route, acc1=ACC[i] if acc1 is None else acc1, acc5=None,
                       loss=None, flops=costs[i].flops, params=costs[i].params, dataset="digits:val",
                       checkpoint="c.pt", space=space.name, space_hash=space.content_hash)
