"""ga-ee-bridge: Google Analytics Enhanced Ecommerce to Exponea (Bloomreach Engagement) tracking.

Read GA Enhanced Ecommerce payloads (:func:`parse_ecommerce`), map them to Exponea track events with
the web SDK's taxonomy (:func:`to_exponea_events`), and build Tracking API commands from them
(:meth:`TrackEvent.to_command`); convert whole dataLayer dumps with :func:`convert_dump`; track
from a backend with :class:`Exponea`.

Names are imported on first use, so ``import ga_ee_bridge`` is cheap and a backend that only
tracks never loads the converter (and nothing here loads hypothesis or pytest).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ga_ee_bridge import _moved

logging.getLogger("ga_ee_bridge").addHandler(logging.NullHandler())
_moved.install()

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "KINDS": "ga_ee_bridge.core.model",
    "Ecommerce": "ga_ee_bridge.core.model",
    "EventList": "ga_ee_bridge.core.events",
    "TrackEvent": "ga_ee_bridge.core.events",
    "EcommerceError": "ga_ee_bridge.errors",
    "detect_source": "ga_ee_bridge.readers",
    "parse_ecommerce": "ga_ee_bridge.readers",
    "read_push": "ga_ee_bridge.readers",
    "MAPPINGS": "ga_ee_bridge.mappings",
    "to_exponea_events": "ga_ee_bridge.mappings",
    "ConvertOptions": "ga_ee_bridge.convert.options",
    "IdSpec": "ga_ee_bridge.convert.options",
    "LinkRule": "ga_ee_bridge.convert.links",
    "UpdateSpec": "ga_ee_bridge.convert.updates",
    "ConvertStats": "ga_ee_bridge.convert.results",
    "Reject": "ga_ee_bridge.convert.results",
    "convert_dump": "ga_ee_bridge.convert.api",
    "push_to_ecommerce": "ga_ee_bridge.convert.pushes",
    "DataModel": "ga_ee_bridge.convert.gtm_state",
    "DumpError": "ga_ee_bridge.convert.input",
    "read_dump": "ga_ee_bridge.convert.input",
    "Customer": "ga_ee_bridge.send.client",
    "Exponea": "ga_ee_bridge.send.client",
    "APIError": "ga_ee_bridge.send.request",
    "DeliveryError": "ga_ee_bridge.send.sender",
    "QueueFullError": "ga_ee_bridge.send.sender",
    "DeadLetter": "ga_ee_bridge.send.spool",
    "Spool": "ga_ee_bridge.send.spool",
}

__all__ = [
    "KINDS",
    "MAPPINGS",
    "APIError",
    "ConvertOptions",
    "ConvertStats",
    "Customer",
    "DataModel",
    "DeadLetter",
    "DeliveryError",
    "DumpError",
    "Ecommerce",
    "EcommerceError",
    "EventList",
    "Exponea",
    "IdSpec",
    "LinkRule",
    "QueueFullError",
    "Reject",
    "Spool",
    "TrackEvent",
    "UpdateSpec",
    "__version__",
    "convert_dump",
    "detect_source",
    "parse_ecommerce",
    "push_to_ecommerce",
    "read_dump",
    "read_push",
    "to_exponea_events",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its home on first use (PEP 562), then keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ga_ee_bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from ga_ee_bridge.convert.api import convert_dump
    from ga_ee_bridge.convert.gtm_state import DataModel
    from ga_ee_bridge.convert.input import DumpError, read_dump
    from ga_ee_bridge.convert.links import LinkRule
    from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
    from ga_ee_bridge.convert.pushes import push_to_ecommerce
    from ga_ee_bridge.convert.results import ConvertStats, Reject
    from ga_ee_bridge.convert.updates import UpdateSpec
    from ga_ee_bridge.core.events import EventList, TrackEvent
    from ga_ee_bridge.core.model import KINDS, Ecommerce
    from ga_ee_bridge.errors import EcommerceError
    from ga_ee_bridge.mappings import MAPPINGS, to_exponea_events
    from ga_ee_bridge.readers import detect_source, parse_ecommerce, read_push
    from ga_ee_bridge.send.client import Customer, Exponea
    from ga_ee_bridge.send.request import APIError
    from ga_ee_bridge.send.sender import DeliveryError, QueueFullError
    from ga_ee_bridge.send.spool import DeadLetter, Spool
