"""The JSON body of a provider callback, parsed so that no body can do more than earn a 400.

`json.loads` alone lets three kinds of body through to a crash: nesting deep enough to exhaust the
parser's recursion (100,000 `[`: RecursionError), nesting just shallow enough to parse but deep enough
that the next `repr` or walk of the value recurses too far, and lone surrogates (`"\\ud800"`, valid JSON
syntax but not Unicode), which fail later when the text is encoded, hashed or stored. Every adapter reads
its callbacks through `callback_json`, which refuses all three with `WebhookRejected(400)`.
"""

from __future__ import annotations

import json
from typing import Any

from connector.ports.provider import WebhookRejected

# The providers' callbacks are three or four levels deep; 32 leaves room for any they may add.
MAX_DEPTH = 32
_CONTAINERS = (dict, list)


def callback_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body; `WebhookRejected(400)` for anything that is not JSON a callback could be."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise WebhookRejected(400, "callback body is nested too deeply") from None
    except ValueError:  # UnicodeDecodeError included, and integers too long to convert
        raise WebhookRejected(400, "callback body is not JSON") from None
    if _deeper_than(value, max_depth):
        raise WebhookRejected(400, "callback body is nested too deeply")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # C-speed: finds a lone surrogate anywhere
    except UnicodeEncodeError:
        raise WebhookRejected(400, "callback body holds text that is not valid Unicode") from None
    return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Level by level rather than by recursion (which is what must not happen); about 70 ms for a
    1 MB body of empty arrays, the worst case the body-size cap allows."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        below: list = []
        for container in level:
            items = container.values() if type(container) is dict else container
            below += [item for item in items if isinstance(item, _CONTAINERS)]
        level = below
    return False
