"""Hypothesis strategies for GA Universal Analytics ``ecommerce`` objects, for property tests.

Everything generated here is valid input: :func:`ga_ee_bridge.parse_ecommerce` reads it without
error. With ``dirty=True`` (the default) values carry the real-world dirt the lenient reader
repairs: numbers as strings, ``"$275.00"``, ``"2,698.00"``, ``"1 299,00"``, ``"1.299,00"``,
numeric ids, ``quantity: "1"``, ``step: "1"``, a flat product where a ``products`` list belongs,
unknown keys (``sku``, ``stocklevel``...), custom ``dimensionN``/``metricN``, empty strings,
``null``, empty lists, lower-case ``currencyCode`` and whole ``{"event", "ecommerce"}`` pushes.
With ``dirty=False`` only the types Google documents appear (numbers or plain decimal strings for
money, integers for counts, text for the rest, ``""`` for an omitted optional field), so strict
reading accepts them.

Use :func:`ecommerce` for objects, :func:`cases` when a test needs the values the object stands
for (``case.intended``: the same object, clean, with typed values), and :func:`corrupt` /
:func:`corrupted` for invalid objects paired with the path the error must name::

    from hypothesis import given
    from ga_ee_bridge.testing import strategies as gst

    @given(gst.ecommerce(["purchase"]))
    def test_my_pipeline(ecommerce): ...

Sizes stay small (a few items per list) so that tests stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ga_ee_bridge.core.model import KINDS, PRODUCT_KINDS, PROMOTION_KINDS
from ga_ee_bridge.testing._values import (
    ABSENT as _ABSENT,
)
from ga_ee_bridge.testing._values import (
    WORDS as _WORDS,
)
from ga_ee_bridge.testing._values import (
    check_decimals as _check_decimals,
)
from ga_ee_bridge.testing._values import (
    count_pairs,
    money,
    money_pairs,
    text_pairs,
)
from ga_ee_bridge.testing._values import (
    field_pair as _field,
)
from ga_ee_bridge.testing._values import (
    money_pair_draw as _money_pairs,
)

__all__ = [
    "ACTION_FIELD_KEYS",
    "EcommerceCase",
    "action_fields",
    "cases",
    "corrupt",
    "corrupted",
    "count_pairs",
    "ecommerce",
    "impressions",
    "money",
    "money_pairs",
    "products",
    "promotions",
    "text_pairs",
]

#: The actionField keys Google documents for each kind (``purchase`` and ``refund`` need ``id``).
ACTION_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "click": ("list",),
    "detail": ("list",),
    "add": (),
    "remove": (),
    "checkout": ("step", "option"),
    "checkout_option": ("step", "option"),
    "purchase": ("id", "affiliation", "revenue", "tax", "shipping", "coupon"),
    "refund": ("id",),
}

# The GA type of every documented key (Google's developer guide): "id", "text", "money", "count".
_PRODUCT = {
    "id": "id", "name": "text", "brand": "text", "category": "text", "variant": "text",
    "price": "money", "quantity": "count", "coupon": "text", "position": "count",
}
_IMPRESSION = {
    "id": "id", "name": "text", "list": "text", "brand": "text", "category": "text",
    "variant": "text", "position": "count", "price": "money",
}
_PROMOTION = {"id": "id", "name": "text", "creative": "text", "position": "text"}
_ACTION_FIELD = {
    "id": "id", "affiliation": "text", "revenue": "money", "tax": "money", "shipping": "money",
    "coupon": "text", "list": "text", "step": "count", "option": "text",
}
# Keys real shops add that the reader drops (reference: ga-ecommerce.md section 2).
_EXTRA_KEYS = ("sku", "currency", "variantId", "stocklevel")

#: A (value as pushed, value it stands for) pair; the second is None when the field is absent.


# --- field objects -------------------------------------------------------------------------------

def _object_pair(
    draw: st.DrawFn, types: Mapping[str, str], dirty: bool, *,
    keys: Iterable[str] | None = None, required: Iterable[str] = (), id_or_name: bool = False,
    custom: bool = False, decimals: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One field object: (as pushed, as intended). Keys in a drawn order, as shops write them."""
    wanted = list(types if keys is None else keys)
    raw: dict[str, Any] = {}
    intended: dict[str, Any] = {}
    for key in wanted:
        value_raw, value = _field(
            draw, types[key], key, dirty, required=key in required, decimals=decimals
        )
        if value_raw is not _ABSENT:
            raw[key] = value_raw
        if value is not None:
            intended[key] = value
    if id_or_name and "id" not in intended and "name" not in intended:
        raw["id"], intended["id"] = _field(draw, "id", "id", dirty, required=True)
    if custom and draw(st.integers(0, 2)) == 0:
        for index in draw(st.lists(st.integers(1, 200), max_size=2, unique=True)):
            if draw(st.booleans()):
                key, pair = f"dimension{index}", draw(text_pairs(dirty=dirty))
            else:
                key, pair = f"metric{index}", draw(_money_pairs(dirty, decimals))
            raw[key] = pair[0]
            if pair[1] is not None:
                intended[key] = pair[1]
    if dirty and draw(st.integers(0, 3)) == 0:
        for key in draw(st.lists(st.sampled_from(_EXTRA_KEYS), max_size=2, unique=True)):
            raw[key] = draw(st.one_of(st.none(), st.integers(0, 99), _WORDS))
    order = draw(st.permutations(list(raw)))
    in_order = {key: intended[key] for key in order if key in intended}
    return {key: raw[key] for key in order}, in_order


@st.composite
def _product_pair(
    draw: st.DrawFn, dirty: bool, decimals: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    return _object_pair(draw, _PRODUCT, dirty, id_or_name=True, custom=True, decimals=decimals)


@st.composite
def _impression_pair(
    draw: st.DrawFn, dirty: bool, decimals: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    return _object_pair(
        draw, _IMPRESSION, dirty, id_or_name=True, custom=True, decimals=decimals
    )


@st.composite
def _promotion_pair(draw: st.DrawFn, dirty: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    return _object_pair(draw, _PROMOTION, dirty, id_or_name=True)


@st.composite
def _action_field_pair(
    draw: st.DrawFn, kind: str, dirty: bool, decimals: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = ACTION_FIELD_KEYS[kind]
    if dirty and draw(st.integers(0, 4)) == 0:  # e.g. "option" inside a purchase actionField
        keys = tuple(key for key in _ACTION_FIELD if key != "id" or "id" in keys)
    required = ("id",) if kind in ("purchase", "refund") else ()
    return _object_pair(
        draw, _ACTION_FIELD, dirty, keys=keys, required=required, decimals=decimals
    )


def _lists(item: st.SearchStrategy[Any], max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(item, min_size=0, max_size=max_size)


def _raw(pairs: st.SearchStrategy[list[tuple[Any, Any]]]) -> st.SearchStrategy[list[Any]]:
    return pairs.map(lambda items: [raw for raw, _ in items])


def products(
    *, dirty: bool = True, max_size: int = 3, decimals: int | None = None
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of productFieldObjects, each with an ``id`` or a ``name``.

    ``decimals`` bounds the decimal places of money, as in :func:`money_pairs`.
    """
    _check_decimals(decimals)
    return _raw(_lists(_product_pair(dirty, decimals), max_size))


def impressions(
    *, dirty: bool = True, max_size: int = 3, decimals: int | None = None
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of impressionFieldObjects, each with an ``id`` or a ``name`` (``decimals``: as in
    :func:`money_pairs`)."""
    _check_decimals(decimals)
    return _raw(_lists(_impression_pair(dirty, decimals), max_size))


def promotions(
    *, dirty: bool = True, max_size: int = 3
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of promoFieldObjects, each with an ``id`` or a ``name``."""
    return _raw(_lists(_promotion_pair(dirty), max_size))


def action_fields(
    kind: str, *, dirty: bool = True, decimals: int | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """An actionFieldObject with the keys Google documents for ``kind`` (see ACTION_FIELD_KEYS).

    ``purchase`` and ``refund`` always get an ``id``. Dirty objects sometimes carry keys of other
    kinds too (``option`` inside a purchase, as seen in real shops). ``decimals`` bounds the
    decimal places of money, as in :func:`money_pairs`.
    """
    _check_decimals(decimals)
    if kind not in ACTION_FIELD_KEYS:
        known = ", ".join(ACTION_FIELD_KEYS)
        raise ValueError(f"{kind!r} has no actionField: expected one of {known}")
    return _action_field_pair(kind, dirty, decimals).map(lambda pair: pair[0])


# --- sections and whole objects ------------------------------------------------------------------

@st.composite
def _section_pair(
    draw: st.DrawFn, kind: str, dirty: bool, decimals: int | None = None
) -> tuple[Any, Any]:
    """One section: (as pushed, as intended). ``impressions`` is a list, the others objects."""
    if kind == "impressions":
        items = draw(_lists(_impression_pair(dirty, decimals), 3))
        raw_list: Any = [raw for raw, _ in items]
        if dirty and len(items) == 1 and draw(st.booleans()):
            raw_list = raw_list[0]  # one object where a list belongs: read as a list of one
        return raw_list, [value for _, value in items]
    raw: dict[str, Any] = {}
    intended: dict[str, Any] = {}
    if kind in ACTION_FIELD_KEYS:
        needed = kind in ("purchase", "refund")
        if needed or draw(st.booleans()):
            raw_af, intended_af = draw(_action_field_pair(kind, dirty, decimals))
            raw["actionField"] = raw_af
            intended["actionField"] = intended_af
        elif dirty and draw(st.integers(0, 3)) == 0:
            raw["actionField"] = None
    list_key = "promotions" if kind in PROMOTION_KINDS else "products"
    if kind == "checkout_option":
        return raw, intended
    if kind == "refund" and draw(st.booleans()):
        return raw, intended  # a full refund: no products
    item = _promotion_pair(dirty) if kind in PROMOTION_KINDS else _product_pair(dirty, decimals)
    items = draw(_lists(item, 3))
    raw_items: Any = [raw_item for raw_item, _ in items]
    intended[list_key] = [value for _, value in items]
    if dirty and len(items) == 1 and draw(st.booleans()):
        if kind in PRODUCT_KINDS and not raw and kind not in ("purchase", "refund"):
            return raw_items[0], intended  # gtm4wp: detail: {id, name, ...}
        raw_items = raw_items[0]  # products: {...}: read as a list of one
    raw[list_key] = raw_items
    return raw, intended


@dataclass(frozen=True)
class EcommerceCase:
    """A generated ``ecommerce`` object and what it stands for.

    ``ecommerce`` is what a shop pushes (dirty or clean; a whole push when asked). ``intended`` is
    the same ``ecommerce`` object written cleanly: typed values (money as float, counts as int, ids
    and text trimmed), absent, blank and null fields left out, flat products put in their list,
    unknown keys left out, ``currencyCode`` upper-case; custom ``dimensionN``/``metricN`` kept
    (metrics as float). ``kinds`` lists its sections in KINDS order.
    """

    ecommerce: Any
    intended: dict[str, Any]
    kinds: tuple[str, ...]


def _check_kinds(kinds: Sequence[str] | None) -> Sequence[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = [kinds]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown kinds {unknown}: expected names from {', '.join(KINDS)}")
    return kinds


_PUSH_EVENTS = ("eec.purchase", "gtm4wp.orderCompletedEEC", "addToCart", "productClick", "checkout")


def cases(
    kinds: Sequence[str] | None = None, *, dirty: bool = True, push: bool | None = False,
    decimals: int | None = None,
) -> st.SearchStrategy[EcommerceCase]:
    """An :class:`EcommerceCase`: an ``ecommerce`` object plus the clean values it stands for.

    ``kinds``: the sections to include (None: a random mix of one to four kinds; an unknown name
    is a ``ValueError``). ``push``: wrap the object in a dataLayer push
    ``{"event": ..., "ecommerce": {...}}`` (None: either). ``decimals``: at most that many
    decimal places in every money value and custom metric (see :func:`money_pairs`; ``6`` for
    BigQuery's micros).
    """
    chosen = _check_kinds(kinds)
    _check_decimals(decimals)
    return _cases(tuple(chosen) if chosen is not None else None, dirty, push, decimals)


@st.composite
def _cases(
    draw: st.DrawFn, kinds: tuple[str, ...] | None, dirty: bool, push: bool | None,
    decimals: int | None,
) -> EcommerceCase:
    chosen: Sequence[str] | None = kinds
    if chosen is None:
        chosen = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4, unique=True))
    raw: dict[str, Any] = {}
    intended: dict[str, Any] = {}
    choice = draw(st.integers(0, 3))
    if choice:
        code = draw(st.sampled_from(("EUR", "USD", "GBP", "CZK", "JPY")))
        if dirty and choice == 1:
            raw["currencyCode"] = draw(st.sampled_from((code.lower(), f" {code} ", code.title())))
        else:
            raw["currencyCode"] = code
        intended["currencyCode"] = code
    elif dirty and draw(st.booleans()):
        raw["currencyCode"] = draw(st.sampled_from(("", None)))
    for kind in chosen:
        raw[kind], intended[kind] = draw(_section_pair(kind, dirty, decimals))
    if dirty and draw(st.integers(0, 3)) == 0:
        extra = draw(st.sampled_from(("event", "currecyCode", "items", "null-section")))
        if extra == "null-section":
            absent = [kind for kind in KINDS if kind not in raw]
            if absent:
                raw[draw(st.sampled_from(absent))] = None
        else:
            raw[extra] = {"event": "gtm4wp.addProductToCartEEC", "currecyCode": "EUR",
                          "items": []}[extra]
    order = draw(st.permutations(list(raw)))
    raw = {key: raw[key] for key in order}
    wrapped = draw(st.booleans()) if push is None else push
    pushed: Any = raw
    if wrapped:
        pushed = {"event": draw(st.sampled_from(_PUSH_EVENTS)), "ecommerce": raw}
        if dirty and draw(st.booleans()):
            pushed["gtm.uniqueEventId"] = draw(st.integers(0, 999))
    ordered = tuple(kind for kind in KINDS if kind in intended)
    return EcommerceCase(ecommerce=pushed, intended=intended, kinds=ordered)


def ecommerce(
    kinds: Sequence[str] | None = None, *, dirty: bool = True, push: bool | None = False,
    decimals: int | None = None,
) -> st.SearchStrategy[Any]:
    """A valid GA ``ecommerce`` object (or a whole push when ``push``) holding ``kinds``.

    ``kinds=None`` draws a mix of one to four kinds; ``kinds=["purchase"]`` gives exactly that
    section. ``decimals``: as in :func:`cases`. See :func:`cases` for the values the object
    stands for.
    """
    return cases(kinds, dirty=dirty, push=push, decimals=decimals).map(
        lambda case: case.ecommerce
    )


# --- corruption ----------------------------------------------------------------------------------

_NOT_A_NUMBER = ("abc", "free", "N/A", True, [1], {"value": 1})
_NOT_AN_INT = ("1.5", 2.5, "many", False, [2])
_NOT_AN_OBJECT: tuple[Any, ...] = ("x", 42, 1.5, True, [], ["x"])
_NOT_A_LIST = ("x", 42, True)
_NOT_TEXT: tuple[Any, ...] = ([], {}, ["a"], True)

def _path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _corruptions(ecommerce_obj: Mapping[str, Any]) -> list[tuple[list[str | int], str, Any]]:
    """Sites to corrupt: (location in the object, what to do, path the reader reports)."""
    sites: list[tuple[list[str | int], str, Any]] = []
    if "currencyCode" in ecommerce_obj:
        sites.append((["currencyCode"], "not-text", ["currencyCode"]))
    for kind in KINDS:
        if kind not in ecommerce_obj or ecommerce_obj[kind] is None:
            continue
        section = ecommerce_obj[kind]
        if kind == "impressions":
            sites.append(([kind], "not-a-list", [kind]))
            items = [section] if isinstance(section, Mapping) else section
            for index in range(len(items)):
                loc: list[str | int] = [kind] if isinstance(section, Mapping) else [kind, index]
                _item_sites(sites, loc, [kind, index], "impression")
            continue
        sites.append(([kind], "not-an-object", [kind]))
        flat = (
            kind in PRODUCT_KINDS and "products" not in section and "actionField" not in section
            and ("id" in section or "name" in section)
        )
        if flat:  # the reader reports it where it puts it: kind.products[0]
            _item_sites(sites, [kind], [kind, "products", 0], "product")
            continue
        action_field = section.get("actionField")
        if kind in ("purchase", "refund"):
            sites.append(([kind, "actionField", "id"], "blank-id", [kind, "actionField", "id"]))
            sites.append(([kind, "actionField"], "delete", [kind, "actionField"]))
        if kind not in PROMOTION_KINDS:
            sites.append(([kind, "actionField"], "not-an-object", [kind, "actionField"]))
        if isinstance(action_field, Mapping):
            for key, type_ in (("revenue", "money"), ("tax", "money"), ("step", "count")):
                if kind in ("purchase", "checkout") or key in action_field:
                    bad = "not-a-number" if type_ == "money" else "not-an-int"
                    sites.append(([kind, "actionField", key], bad, [kind, "actionField", key]))
        list_key = "promotions" if kind in PROMOTION_KINDS else "products"
        items = section.get(list_key)
        if kind == "checkout_option":
            continue
        sites.append(([kind, list_key], "not-a-list", [kind, list_key]))
        if isinstance(items, Mapping):
            items = [items]
            single = True
        else:
            single = False
        for index in range(len(items or ())):
            loc = [kind, list_key] if single else [kind, list_key, index]
            item_type = "promotion" if kind in PROMOTION_KINDS else "product"
            _item_sites(sites, loc, [kind, list_key, index], item_type)
    return sites


def _item_sites(
    sites: list[tuple[list[str | int], str, Any]], loc: list[str | int],
    path: list[str | int], item_type: str,
) -> None:
    sites.append((loc, "no-id-or-name", path))
    if isinstance(loc[-1], int):  # a list element (not a lone object): make it a non-object
        sites.append((loc, "not-an-object", path))
    if item_type != "promotion":
        sites.append(([*loc, "price"], "not-a-number", [*path, "price"]))
        key = "quantity" if item_type == "product" else "position"
        sites.append(([*loc, key], "not-an-int", [*path, key]))
        sites.append(([*loc, "metric3"], "not-a-number", [*path, "metric3"]))
    sites.append(([*loc, "name"], "not-text", [*path, "name"]))


def _apply(obj: Any, loc: Sequence[str | int], action: str, bad: Any) -> Any:
    """A copy of ``obj`` with the value at ``loc`` corrupted by ``action``."""
    if not loc:
        if action == "no-id-or-name":
            copy = dict(obj)
            copy["id"] = copy["name"] = ""  # keys kept: a flat product stays flat
            return copy
        return bad
    head, rest = loc[0], loc[1:]
    if isinstance(obj, list):
        copy_list = list(obj)
        copy_list[int(head)] = _apply(obj[int(head)], rest, action, bad)
        return copy_list
    copy = dict(obj)
    if not rest and action == "delete":
        copy.pop(head, None)
    elif not rest and action == "blank-id":
        copy[head] = bad
    else:
        target = obj.get(head) if isinstance(head, str) else None
        if rest and not isinstance(target, Mapping | list):
            target = {}  # e.g. a missing actionField gets one holding the bad value
        copy[head] = _apply(target, rest, action, bad)
    return copy


_BAD_VALUES: dict[str, tuple[Any, ...]] = {
    "not-a-number": _NOT_A_NUMBER,
    "not-an-int": _NOT_AN_INT,
    "not-an-object": _NOT_AN_OBJECT,
    "not-a-list": _NOT_A_LIST,
    "not-text": _NOT_TEXT,
    "blank-id": ("", None, "  "),
    "delete": (None,),
    "no-id-or-name": (None,),
}


@st.composite
def _corrupt(draw: st.DrawFn, obj: Any) -> tuple[Any, str]:
    is_push = isinstance(obj, Mapping) and "ecommerce" in obj
    inner = obj["ecommerce"] if is_push else obj
    sites = _corruptions(inner if isinstance(inner, Mapping) else {})
    options: list[tuple[list[str | int], str, Any]] = [*sites, ([], "not-an-object", [])]
    loc, action, path = draw(st.sampled_from(options))
    bad = draw(st.sampled_from(_BAD_VALUES[action]))
    if not loc:  # the whole ecommerce object is not an object
        bad = draw(st.sampled_from(("x", 42, ["purchase"])))
    broken = _apply(inner, loc, action, bad)
    if broken == inner:  # False == 0 and True == 1 in Python: pick a value that differs
        bad = next(value for value in _BAD_VALUES[action] if not isinstance(value, bool))
        broken = _apply(inner, loc, action, bad)
    if is_push:
        broken = {**obj, "ecommerce": broken}
    return broken, _path(path) or "ecommerce"


def corrupt(obj: Any) -> st.SearchStrategy[tuple[Any, str]]:
    """``(bad object, path)``: ``obj`` (an ``ecommerce`` object or a push), one value made invalid.

    The corruption is one of: a money value that is not a number, a count that is not an integer,
    a product, impression or promotion with neither ``id`` nor ``name``, a purchase or refund
    without ``actionField.id`` (or without actionField), a non-object where an object is needed,
    a non-list where a list is needed, or non-text where text is needed. ``path`` is the one path
    :class:`~ga_ee_bridge.EcommerceError` must name, as the reader reports it: relative to the
    ``ecommerce`` object (``purchase.products[1].price``; ``ecommerce`` for the object itself), and
    for a shape the reader repairs, in the repaired shape (a flat ``detail`` product is
    ``detail.products[0]``, a lone impression object ``impressions[0]``). ``obj`` is not changed.
    """
    return _corrupt(obj)


def corrupted(
    kinds: Sequence[str] | None = None, *, dirty: bool = True, push: bool | None = False
) -> st.SearchStrategy[tuple[Any, str]]:
    """``(bad object, path)`` drawn from :func:`ecommerce` objects by :func:`corrupt`."""
    return ecommerce(kinds, dirty=dirty, push=push).flatmap(corrupt)
