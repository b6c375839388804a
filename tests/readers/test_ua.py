"""The UA (GTM dataLayer) reader: lenient repairs, strict refusals, errors naming path and value."""

import pytest

from ga_ee_bridge import EcommerceError, parse_ecommerce
from ga_ee_bridge.core.model import Impression, Product, Promotion


def purchase(**product):
    return {"purchase": {"actionField": {"id": "T1"}, "products": [product]}}


def only_product(ecommerce, kind="purchase"):
    (item,) = parse_ecommerce(ecommerce).sections[kind].items
    assert isinstance(item, Product)
    return item


def test_documented_types_are_read_into_the_model():
    ec = parse_ecommerce(
        {
            "currencyCode": "EUR",
            "purchase": {
                "actionField": {"id": "T12345", "revenue": "35.43", "tax": 4.9, "shipping": "5.99"},
                "products": [{"id": "12345", "name": "Shirt", "price": "15.25", "quantity": 2}],
            },
        }
    )
    assert ec.currency_code == "EUR"
    section = ec.sections["purchase"]
    assert section.action_field.id == "T12345"
    assert (section.action_field.revenue, section.action_field.tax) == (35.43, 4.9)
    assert section.action_field.shipping == 5.99
    assert section.items[0].price == 15.25 and section.items[0].quantity == 2


@pytest.mark.parametrize(
    ("price", "expected"),
    [("$275.00", 275.0), ("2,698.00", 2698.0), ("1 299,00", 1299.0), ("1.299,00", 1299.0),
     ("4,245.42", 4245.42), ("12,99 €", 12.99), (0, 0.0), ("0", 0.0), ("$-55.00", -55.0)],
)
def test_lenient_prices(price, expected):
    assert only_product(purchase(id="a", price=price)).price == expected


def test_lenient_repairs_numeric_ids_and_string_counts():
    product = only_product(purchase(id=6578037424293, quantity="1", position="3"))
    assert product.id == "6578037424293"
    assert (product.quantity, product.position) == (1, 3)
    ec = parse_ecommerce({"checkout": {"actionField": {"step": "1", "option": "Visa"}}})
    assert ec.sections["checkout"].action_field.step == 1


def test_empty_strings_and_nulls_mean_absent():
    product = only_product(purchase(id="a", name="", brand=None, coupon="  ", price=""))
    assert (product.name, product.brand, product.coupon, product.price) == (None, None, None, None)


def test_flat_detail_product_is_read_as_one_product():
    ec = parse_ecommerce({"detail": {"id": "p1", "name": "Shirt", "price": "9.99"}})
    (product,) = ec.sections["detail"].items
    assert (product.id, product.price) == ("p1", 9.99)
    assert ec.dropped == ()


def test_single_product_object_where_a_list_belongs():
    ec = parse_ecommerce({"add": {"products": {"id": "p1", "quantity": 1}}})
    assert [p.id for p in ec.sections["add"].items] == ["p1"]


def test_a_whole_push_and_null_ecommerce():
    push = {"event": "eec.purchase", "ecommerce": purchase(id="a")}
    assert parse_ecommerce(push) == parse_ecommerce(push["ecommerce"])
    assert parse_ecommerce({"ecommerce": None}).sections == {}
    assert parse_ecommerce({"impressions": []}).sections["impressions"].items == ()


def test_items_of_each_kind_have_their_model_type():
    ec = parse_ecommerce(
        {
            "impressions": [{"id": "i1", "list": "Search Results", "position": 1}],
            "promoView": {"promotions": [{"id": "PROMO_1", "position": "banner1"}]},
        }
    )
    assert isinstance(ec.sections["impressions"].items[0], Impression)
    promo = ec.sections["promoView"].items[0]
    assert isinstance(promo, Promotion) and promo.position == "banner1"


def test_custom_dimensions_kept_unknown_keys_dropped_and_reported():
    ec = parse_ecommerce(
        {
            "event": "inside",
            "purchase": {
                "actionField": {"id": "T1", "sku": "x"},
                "products": [{"id": "a", "dimension1": "M", "metric2": "3.5", "sku": "s-1"}],
            },
        }
    )
    product = ec.sections["purchase"].items[0]
    assert dict(product.custom) == {"dimension1": "M", "metric2": 3.5}
    assert ec.dropped == ("event", "purchase.actionField.sku", "purchase.products[0].sku")


def test_raw_values_are_kept_as_pushed():
    product = only_product(purchase(id=12, price="15.25", quantity="1"))
    assert dict(product.raw) == {"id": 12, "price": "15.25", "quantity": "1"}


def test_currency_code_is_trimmed_and_upper_cased():
    assert parse_ecommerce({"currencyCode": " eur "}).currency_code == "EUR"


def test_model_is_immutable():
    product = only_product(purchase(id="a"))
    with pytest.raises(AttributeError):
        product.price = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        product.raw["id"] = "b"  # type: ignore[index]


@pytest.mark.parametrize(
    ("ecommerce", "path", "fragment"),
    [
        (purchase(price=1), "purchase.products[0]", "needs an 'id' or a 'name'"),
        ({"purchase": {"products": [{"id": "a"}]}}, "purchase.actionField", "needs actionField.id"),
        ({"refund": {"actionField": {"id": ""}}}, "refund.actionField.id", "missing"),
        ({"detail": "shirt"}, "detail", "not an object: 'shirt'"),
        ({"add": {"products": ["shirt"]}}, "add.products[0]", "not an object: 'shirt'"),
        ({"add": {"products": 5}}, "add.products", "not a list: 5"),
        (purchase(id=["a"]), "purchase.products[0]", "needs an 'id' or a 'name'"),
        ({"purchase": {"actionField": {"id": {}}}}, "purchase.actionField.id", "missing"),
        ({"purchase": {"actionField": "T1"}}, "purchase.actionField", "needs actionField.id"),
        ("not an object", "ecommerce", "not an object: 'not an object'"),
    ],
)
def test_errors_name_path_and_value(ecommerce, path, fragment):
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(ecommerce)
    assert path in info.value.paths
    message = dict(info.value.errors)[path]
    assert fragment in message
    assert f"{path}: " in str(info.value)


@pytest.mark.parametrize(
    ("ecommerce", "path", "fragment"),
    [
        (purchase(id="a", price="abc"), "purchase.products[0].price", "not a number: 'abc'"),
        (purchase(id="a", quantity=1.5), "purchase.products[0].quantity", "not an integer: 1.5"),
        (purchase(id="a", metric1="lots"), "purchase.products[0].metric1", "not a number: 'lots'"),
        (purchase(id=["a"], name="n"), "purchase.products[0].id", "not an id (text): ['a']"),
        ({"impressions": [{"name": "x", "price": True}]}, "impressions[0].price", "not a number: True"),
        (purchase(id="a", brand=False), "purchase.products[0].brand", "not text: False"),
        (purchase(id="a", variant={}), "purchase.products[0].variant", "not text: {}"),
        (purchase(id="a", position="top"), "purchase.products[0].position", "'top'"),
        ({"detail": {"actionField": "x", "products": [{"id": "a"}]}}, "detail.actionField",
         "not an object: 'x'"),
        ({"currencyCode": ["EUR"]}, "currencyCode", "not a currency code: ['EUR']"),
    ],
)
def test_unreadable_values_are_left_out_with_a_warning_and_refused_in_strict_mode(
    ecommerce, path, fragment
):
    parsed = parse_ecommerce(ecommerce)
    warnings = {w.path: w for w in parsed.warnings}
    assert list(warnings) == [path]
    assert fragment in warnings[path].message
    assert parsed.sections or parsed.currency_code is None
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(ecommerce, strict=True)
    assert path in info.value.paths


def test_every_bad_path_is_reported_at_once():
    bad = {
        "impressions": [{"id": "i", "position": "first"}],
        "purchase": {
            "actionField": {"revenue": "n/a"},
            "products": [{"id": "a", "price": "abc"}, {"id": "b"}, {"brand": "no id"}],
        },
    }
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(bad, strict=True)
    assert set(info.value.paths) == {
        "impressions[0].position",
        "purchase.actionField.revenue",
        "purchase.actionField.id",
        "purchase.products[0].price",
        "purchase.products[2]",
    }
    assert list(info.value.messages["purchase"]["products"][0]) == ["price"]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("ecommerce", "path"),
    [
        (purchase(id=6578037424293), "purchase.products[0].id"),
        (purchase(id="a", price="$275.00"), "purchase.products[0].price"),
        (purchase(id="a", quantity="1"), "purchase.products[0].quantity"),
        ({"detail": {"id": "a"}}, "detail"),
        ({"add": {"products": {"id": "a"}}}, "add.products"),
        ({"currencyCode": "euro"}, "currencyCode"),
    ],
)
def test_strict_rejects_what_lenient_repairs(ecommerce, path):
    parse_ecommerce(ecommerce)  # lenient reads it
    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(ecommerce, strict=True)
    assert path in info.value.paths
    assert "lenient" in dict(info.value.errors)[path] or path == "currencyCode"


def test_strict_accepts_googles_quoted_prices():
    ec = parse_ecommerce(purchase(id="a", price="15.25", quantity=1), strict=True)
    assert ec.sections["purchase"].items[0].price == 15.25


def test_error_survives_pickling():
    import pickle

    with pytest.raises(EcommerceError) as info:
        parse_ecommerce(purchase(id="a", price="abc"), strict=True)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
