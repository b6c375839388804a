"""The properties the web SDK adds to every event: ``location``, ``os``, ``browser``, ``device``.

One place for both the client (a request's URL and user agent) and the dump converter (a page's
metadata), so events from the backend and from history carry the same defaults.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["page_properties", "user_agent_properties"]


@lru_cache(maxsize=1024)
def user_agent_properties(user_agent: str) -> tuple[tuple[str, str], ...]:
    """``os``, ``browser`` and ``device`` families of a user agent (``"Other"`` when unknown)."""
    from ua_parser import parse  # imported on first use: loading its rules takes ~0.1 s

    result = parse(user_agent).with_defaults()
    return (
        ("os", result.os.family),
        ("browser", result.user_agent.family),
        ("device", result.device.family),
    )


def page_properties(url: Any, user_agent: Any) -> dict[str, Any]:
    """``location`` from the page URL, then ``os``/``browser``/``device``; absent ones left out."""
    properties: dict[str, Any] = {}
    if isinstance(url, str) and url:
        properties["location"] = url
    if isinstance(user_agent, str) and user_agent:
        properties.update(user_agent_properties(user_agent))
    return properties
