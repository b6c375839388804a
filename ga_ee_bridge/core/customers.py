"""Customer attributes: the normalisation the Tracking API's customer updates get.

One rule for the client's ``identify`` / ``update`` and the converter's ``--update``: emails
trimmed and lower-cased, ``phone`` in full international format, ``language`` as two letters.
"""

from __future__ import annotations

import re
from typing import Any

from ga_ee_bridge.core.ids import normalise_email

__all__ = ["normalise_customer_properties"]

_PHONE_NOISE = re.compile(r"[\s\-()]")
_PHONE = re.compile(r"^\+\d{8,15}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def normalise_customer_properties(properties: dict[str, Any], where: str = "properties"
                                  ) -> dict[str, Any]:
    """Normalise ``email``, ``phone`` and ``language`` in checked customer properties, in place.

    Raises ``ValueError`` naming ``where.phone`` / ``where.language`` for a value that cannot be
    one.
    """
    email = properties.get("email")
    if isinstance(email, str):
        properties["email"] = normalise_email(email)
    phone = properties.get("phone")
    if phone is not None:
        if not isinstance(phone, str):
            raise ValueError(f"{where}.phone: must be a string like '+421905123456', got {phone!r}")
        cleaned = _PHONE_NOISE.sub("", phone)
        if not _PHONE.match(cleaned):
            raise ValueError(
                f"{where}.phone: must be '+' and 8 to 15 digits (full international format), "
                f"got {phone!r}")
        properties["phone"] = cleaned
    language = properties.get("language")
    if language is not None:
        if not isinstance(language, str) or not _LANGUAGE.match(language.strip().lower()):
            raise ValueError(
                f"{where}.language: must be a two-letter ISO 639-1 code, got {language!r}")
        properties["language"] = language.strip().lower()
    return properties
