"""miniyarn: YARN's records, ids, states, Redis key schema, configuration and clients."""

from __future__ import annotations

__version__ = "0.1.0"
