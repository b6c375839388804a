"""Customer ids: the one rule for what the Tracking API takes as an id, and for emails.

Used by the events' command building, the client's validation and the converter's ``--id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["check_customer_ids", "looks_like_email", "normalise_email"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_customer_ids(customer_ids: Mapping[str, Any]) -> dict[str, Any]:
    """Return a plain copy of ``customer_ids`` or raise ``ValueError`` naming the bad id.

    The Tracking API needs at least one id, each a non-empty string (numbers are allowed and kept).
    """
    if (type(customer_ids) is not dict and not isinstance(customer_ids, Mapping)) or (
        not customer_ids
    ):
        raise ValueError(f"customer_ids must be a non-empty mapping, got {customer_ids!r}")
    ids: dict[str, Any] = {}
    for name, value in customer_ids.items():
        if (type(name) is not str and not isinstance(name, str)) or not name:
            raise ValueError(f"customer id name must be a non-empty string, got {name!r}")
        # (plain text, the common case, needs the last check only)
        if type(value) is not str and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            raise ValueError(f"customer_ids.{name}: must be a string, got {value!r}")
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"customer_ids.{name}: must not be empty")
        ids[name] = value
    return ids


def looks_like_email(value: Any) -> bool:
    """True for a string shaped like an email address (after trimming)."""
    return isinstance(value, str) and _EMAIL.match(value.strip()) is not None


def normalise_email(value: str) -> str:
    """Trim and lower-case an email address, as the Exponea docs ask."""
    return value.strip().lower()
