"""The mappings, case by case against the web SDK's behaviour (reference: exponea.md section 1)."""

import json

import pytest

from ga_ee_bridge import KINDS, MAPPINGS, EcommerceError, TrackEvent, to_exponea_events

ORDER = {
    "currencyCode": "EUR",
    "purchase": {
        "actionField": {"id": "T1", "affiliation": "Shop", "revenue": "35.43", "tax": "4.90",
                        "shipping": 0, "coupon": "SUMMER"},
        "products": [
            {"id": "p1", "name": "Shirt", "price": "15.25", "quantity": 1, "coupon": "SHIRT10",
             "dimension1": "M", "metric1": "2", "sku": "S-1"},
            {"id": 67890, "name": "Sample", "price": 0, "quantity": "1", "coupon": ""},
        ],
    },
}


def types(events):
    return [e.event_type for e in events]


def props(event):
    return dict(event.properties)


def test_purchase_sdk():
    events = to_exponea_events(ORDER, "purchase")
    assert types(events) == ["product_purchase", "product_purchase", "transaction"]
    first, second, summary = map(props, events)
    assert list(first) == [
        "tracked_via", "currency_code", "transaction_id", "affiliation", "revenue", "tax",
        "shipping", "coupon", "product_id", "name", "price", "quantity", "dimension1", "metric1",
    ]
    assert first["tracked_via"] == "ecommerce"
    assert first["coupon"] == "SHIRT10"  # the product's coupon overrides the order's
    assert first["revenue"] == 35.43 and first["shipping"] == 0.0 and first["price"] == 15.25
    assert (first["dimension1"], first["metric1"]) == ("M", 2.0)
    assert second["product_id"] == "67890" and second["price"] == 0.0  # a free sample costs 0
    assert second["quantity"] == 1 and second["coupon"] == "SUMMER"  # "" does not override
    assert summary == {
        "tracked_via": "ecommerce", "currency_code": "EUR", "transaction_id": "T1",
        "affiliation": "Shop", "revenue": 35.43, "tax": 4.9, "shipping": 0.0, "coupon": "SUMMER",
    }
    assert events.dropped == ("purchase.products[0].sku",)


def test_purchase_sdk_exact_copies_truthy_values_as_given():
    events = to_exponea_events(ORDER, "purchase", mapping="sdk-exact")
    first, second, summary = map(props, events)
    assert first == {
        "tracked_via": "eecommerce", "currency_code": "EUR", "transaction_id": "T1",
        "affiliation": "Shop", "revenue": "35.43", "tax": "4.90", "coupon": "SHIRT10",
        "product_id": "p1", "name": "Shirt", "price": "15.25", "quantity": 1,
    }
    assert second == {
        "tracked_via": "eecommerce", "currency_code": "EUR", "transaction_id": "T1",
        "affiliation": "Shop", "revenue": "35.43", "tax": "4.90", "coupon": "SUMMER",
        "product_id": 67890, "name": "Sample", "quantity": "1",
    }
    assert "shipping" not in summary


@pytest.mark.parametrize(
    ("ecommerce", "expected"),
    [
        ({"impressions": [{"id": "a"}, {"name": "b"}]}, ["product_impression"] * 2),
        ({"click": {"actionField": {"list": "L"}, "products": [{"id": "a"}]}}, ["product_click"]),
        ({"detail": {"products": [{"id": "a"}]}}, ["product_detail"]),
        ({"add": {"products": [{"id": "a"}, {"id": "b"}]}}, ["product_add_to_cart"] * 2),
        ({"remove": {"products": [{"id": "a"}]}}, ["product_remove_from_cart"]),
        ({"promoView": {"promotions": [{"id": "x"}, {"id": "y"}]}}, ["promo_impression"] * 2),
        ({"promoClick": {"promotions": [{"name": "x"}]}}, ["promo_click"]),
        ({"checkout": {"actionField": {"step": 1}, "products": [{"id": "a"}]}},
         ["product_checkout", "checkout"]),
        ({"checkout_option": {"actionField": {"step": 2, "option": "Visa"}}}, ["checkout_option"]),
        ({"refund": {"actionField": {"id": "T1"}}}, ["refund"]),
        ({"refund": {"actionField": {"id": "T1"}, "products": [{"id": "a", "quantity": 1}]}},
         ["product_refund", "refund"]),
    ],
)
def test_event_types_per_kind(ecommerce, expected):
    assert types(to_exponea_events(ecommerce)) == expected
    assert types(to_exponea_events(ecommerce, mapping="sdk-exact")) == expected


def test_all_follows_the_sdk_section_order():
    ecommerce = {
        "refund": {"actionField": {"id": "R"}},
        "promoView": {"promotions": [{"id": "x"}]},
        "detail": {"products": [{"id": "a"}]},
        "impressions": [{"id": "i"}],
    }
    assert types(to_exponea_events(ecommerce)) == [
        "product_impression", "product_detail", "promo_impression", "refund",
    ]


def test_refund_type_full_and_partial():
    full = to_exponea_events({"refund": {"actionField": {"id": "T1"}}})
    assert props(full[0])["refund_type"] == "full"
    partial = to_exponea_events(
        {"refund": {"actionField": {"id": "T1"}, "products": [{"id": "a", "quantity": 1}]}}
    )
    assert "refund_type" not in props(partial[0])
    assert list(props(partial[1]))[-1] == "refund_type"
    assert props(partial[1])["refund_type"] == "partial"


def test_impression_and_promotion_properties():
    (impression,) = to_exponea_events(
        {"currencyCode": "USD", "impressions": [
            {"id": "i1", "name": "N", "list": "Search", "brand": "B", "category": "C/D",
             "variant": "V", "position": "1", "price": "1.50", "dimension2": "x"}]}
    )
    assert list(props(impression)) == [
        "tracked_via", "currency_code", "product_id", "name", "price", "brand", "category",
        "variant", "list", "position", "dimension2",
    ]
    assert props(impression)["position"] == 1
    (promo,) = to_exponea_events(
        {"currencyCode": "USD", "promoClick": {"promotions": [
            {"id": "P", "name": "Summer", "creative": "banner", "position": "slot1"}]}}
    )
    assert props(promo) == {
        "tracked_via": "ecommerce", "currency_code": "USD", "promo_id": "P", "name": "Summer",
        "creative": "banner", "position": "slot1",
    }


def test_action_field_list_and_step_reach_product_events():
    events = to_exponea_events(
        {"checkout": {"actionField": {"step": "2", "option": "Visa"},
                      "products": [{"id": "a", "price": "1"}]}}
    )
    assert props(events[0])["step"] == 2 and props(events[0])["option"] == "Visa"
    assert props(events[1]) == {"tracked_via": "ecommerce", "step": 2, "option": "Visa"}


def test_sdk_exact_drops_falsy_and_unlisted_fields():
    (event,) = to_exponea_events(
        {"impressions": [{"id": "a", "position": 0, "price": "0", "dimension1": "x"}]},
        mapping="sdk-exact",
    )
    assert props(event) == {"tracked_via": "eecommerce", "product_id": "a", "price": "0"}


def test_tracked_via_override():
    for mapping in MAPPINGS:
        events = to_exponea_events(ORDER, mapping=mapping, tracked_via="backend")
        assert {props(e)["tracked_via"] for e in events} == {"backend"}


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown kind 'promo_view'") as info:
        to_exponea_events(ORDER, "promo_view")
    assert all(kind in str(info.value) for kind in KINDS)


def test_unknown_mapping():
    with pytest.raises(ValueError, match="unknown mapping 'magento'"):
        to_exponea_events(ORDER, mapping="magento")


def test_absent_kind_yields_nothing():
    assert to_exponea_events(ORDER, "refund") == []
    assert to_exponea_events({"ecommerce": None}) == []


def test_bad_input_raises_ecommerce_error():
    bad = {"purchase": {"actionField": {"id": "T"},
                        "products": [{"id": "a"}, {"id": "b", "price": "abc"}]}}
    with pytest.raises(EcommerceError, match=r"purchase\.products\[1\]\.price: not a plain"):
        to_exponea_events(bad, strict=True)
    with pytest.raises(EcommerceError, match=r"purchase\.products\[1\]: needs an 'id'"):
        to_exponea_events({"purchase": {"actionField": {"id": "T"}, "products": [{"id": "a"}, {}]}})


def test_strict_passes_through():
    with pytest.raises(EcommerceError):
        to_exponea_events({"detail": {"id": 5}}, strict=True)


def test_events_become_json_commands():
    events = to_exponea_events(ORDER)
    command = events[0].to_command({"registered": "gordon@example.com"}, timestamp=1732780800)
    assert command["name"] == "customers/events"
    assert list(command["data"]) == ["customer_ids", "event_type", "timestamp", "properties"]
    assert command["data"]["timestamp"] == 1732780800.0
    assert json.loads(json.dumps(command)) == command
    assert isinstance(events[0], TrackEvent)


def test_a_parsed_ecommerce_is_accepted():
    from ga_ee_bridge import parse_ecommerce

    parsed = parse_ecommerce(ORDER)
    assert to_exponea_events(parsed) == to_exponea_events(ORDER)


def test_more_than_255_properties_is_an_error_naming_the_item():
    dims = {f"dimension{i}": "x" for i in range(1, 260)}
    ecommerce = {"add": {"products": [{"id": "a"}, {"id": "b", **dims}]}}
    with pytest.raises(EcommerceError, match=r"add\.products\[1\]: 26\d properties") as info:
        to_exponea_events(ecommerce)
    assert info.value.paths == ["add.products[1]"]
    assert len(to_exponea_events(ecommerce, mapping="sdk-exact")) == 2  # the SDK drops them
