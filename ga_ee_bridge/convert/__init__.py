"""Converting dataLayer dumps and other GA exports into Tracking API commands, rejects and stats.

:func:`convert_dump` is the entry point; :class:`ConvertOptions` says what to convert and how.
"""

from ga_ee_bridge.convert.api import convert_dump, iter_results, kept_items
from ga_ee_bridge.convert.links import LinkRule
from ga_ee_bridge.convert.options import (
    DEFAULT_TIMESTAMP_PATHS,
    ConvertOptions,
    IdSpec,
    normalise_id,
)
from ga_ee_bridge.convert.pushes import FILE_SOURCES, PUSH_SOURCES, SOURCES, push_to_ecommerce
from ga_ee_bridge.convert.results import (
    ConvertStats,
    Reject,
    Run,
    Segment,
)
from ga_ee_bridge.convert.updates import UpdateSpec

__all__ = [
    "DEFAULT_TIMESTAMP_PATHS",
    "FILE_SOURCES",
    "PUSH_SOURCES",
    "SOURCES",
    "ConvertOptions",
    "ConvertStats",
    "IdSpec",
    "LinkRule",
    "Reject",
    "Run",
    "Segment",
    "UpdateSpec",
    "convert_dump",
    "iter_results",
    "kept_items",
    "normalise_id",
    "push_to_ecommerce",
]
