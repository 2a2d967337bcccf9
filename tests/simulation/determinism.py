"""Everything a run would otherwise draw from the machine, pinned to the seed.

Invariant: inside `pinned(seed)`, the engine's jitter (module `random`), every uuid4 (job ids, lease tokens, worker
ids) and nothing else nondeterministic feeds the run, so the same seed gives a byte-identical run; and everything is
put back afterwards, so that the rest of the test session is unaffected.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def pinned(seed: int) -> Iterator[None]:
    state, uuid4, disabled = random.getstate(), uuid.uuid4, logging.root.manager.disable
    ids = random.Random(f"uuid:{seed}")
    random.seed(f"engine:{seed}")
    uuid.uuid4 = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)
    logging.disable(logging.CRITICAL)  # the engine logs every retry; thousands of runs need none of it
    try:
        yield
    finally:
        random.setstate(state)
        uuid.uuid4 = uuid4
        logging.disable(disabled)
