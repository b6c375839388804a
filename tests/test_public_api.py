"""The public surface is a promise: pin it, and check the library's logging manners."""

import logging
import subprocess
import sys

import ga_ee_bridge

PUBLIC = {
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
    "KINDS",
    "LinkRule",
    "MAPPINGS",
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
}


def test_all_is_pinned():
    assert set(ga_ee_bridge.__all__) == PUBLIC
    for name in ga_ee_bridge.__all__:
        assert hasattr(ga_ee_bridge, name), name


def test_kinds_in_web_sdk_order():
    assert ga_ee_bridge.KINDS == (
        "impressions", "click", "detail", "add", "remove", "promoView", "promoClick",
        "checkout", "checkout_option", "purchase", "refund",
    )


def test_library_logger_has_a_null_handler_and_root_is_untouched():
    logger = logging.getLogger("ga_ee_bridge")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
    code = (
        "import logging, ga_ee_bridge, ga_ee_bridge.cli;"
        "print(len(logging.getLogger().handlers), logging.getLogger().level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", str(logging.WARNING)]


def test_package_is_typed():
    from importlib.resources import files

    assert files("ga_ee_bridge").joinpath("py.typed").is_file()
