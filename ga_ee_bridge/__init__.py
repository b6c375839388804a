"""ga-ee-bridge: Google Analytics Enhanced Ecommerce to Exponea (Bloomreach Engagement) tracking."""

from __future__ import annotations

import logging

from ga_ee_bridge.events import TrackEvent

logging.getLogger("ga_ee_bridge").addHandler(logging.NullHandler())

__all__ = ["TrackEvent"]
