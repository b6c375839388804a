"""ga-ee-bridge: Google Analytics Enhanced Ecommerce to Exponea (Bloomreach Engagement) tracking.

Read GA Enhanced Ecommerce payloads (:func:`parse_ecommerce`), map them to Exponea track events with
the web SDK's taxonomy (:func:`to_exponea_events`), and build Tracking API commands from them
(:meth:`TrackEvent.to_command`); convert whole dataLayer dumps with :func:`convert_dump`.
"""

from __future__ import annotations

import logging

from ga_ee_bridge.client import Customer, Exponea
from ga_ee_bridge.convert import (
    ConvertOptions,
    ConvertStats,
    IdSpec,
    Reject,
    convert_dump,
    push_to_ecommerce,
)
from ga_ee_bridge.datamodel import DataModel
from ga_ee_bridge.dumps import DumpError, read_dump
from ga_ee_bridge.errors import EcommerceError
from ga_ee_bridge.events import EventList, TrackEvent
from ga_ee_bridge.mappings import MAPPINGS, to_exponea_events
from ga_ee_bridge.model import KINDS, Ecommerce
from ga_ee_bridge.readers import detect_source, parse_ecommerce, read_push
from ga_ee_bridge.request import APIError
from ga_ee_bridge.sender import DeliveryError, QueueFullError
from ga_ee_bridge.spool import DeadLetter, Spool

logging.getLogger("ga_ee_bridge").addHandler(logging.NullHandler())

__version__ = "0.1.0"

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
    "QueueFullError",
    "Reject",
    "Spool",
    "TrackEvent",
    "__version__",
    "convert_dump",
    "detect_source",
    "parse_ecommerce",
    "push_to_ecommerce",
    "read_dump",
    "read_push",
    "to_exponea_events",
]
