"""Quick start: map Google's documented purchase to Exponea Tracking API commands.

Run: ``python examples/quickstart.py`` (prints one JSON command per line).
"""

import json

import ga_ee_bridge as gee

push = {
    "event": "purchase",
    "ecommerce": {
        "currencyCode": "EUR",
        "purchase": {
            "actionField": {"id": "T12345", "affiliation": "Online Store", "revenue": "35.43",
                            "tax": "4.90", "shipping": "5.99", "coupon": "SUMMER_SALE"},
            "products": [
                {"name": "Triblend Android T-Shirt", "id": "12345", "price": "15.25",
                 "brand": "Google", "category": "Apparel", "variant": "Gray", "quantity": 1,
                 "coupon": ""},
                {"name": "Donut Friday Scented T-Shirt", "id": "67890", "price": "33.75",
                 "brand": "Google", "category": "Apparel", "variant": "Black", "quantity": 1},
            ],
        },
    },
}

events = gee.to_exponea_events(push, "purchase")
for offset, event in enumerate(events):
    command = event.to_command({"registered": "gordon@example.com"},
                               timestamp=1732780800.0 + offset / 1000)
    print(json.dumps(command))
