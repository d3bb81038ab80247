"""The `miniflink` command line."""

from __future__ import annotations
