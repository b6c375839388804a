"""Benchmark: ``to_exponea_events`` + ``to_command`` against ``json.loads`` + ``json.dumps``.

Each payload is decoded, read, mapped, and every event's Tracking API command built (for one
customer and time). Payloads: Google's purchase example (developer guide) and a 20-product
purchase. Both are timed in the same run, so the ratio is meaningful on a loaded machine.
Run: ``python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import json
import statistics
import timeit

import ga_ee_bridge as gee

GOOGLE_PURCHASE = {
    "ecommerce": {
        "purchase": {
            "actionField": {
                "id": "T12345", "affiliation": "Online Store", "revenue": "35.43",
                "tax": "4.90", "shipping": "5.99", "coupon": "SUMMER_SALE",
            },
            "products": [
                {"name": "Triblend Android T-Shirt", "id": "12345", "price": "15.25",
                 "brand": "Google", "category": "Apparel", "variant": "Gray", "quantity": 1,
                 "coupon": ""},
                {"name": "Donut Friday Scented T-Shirt", "id": "67890", "price": "33.75",
                 "brand": "Google", "category": "Apparel", "variant": "Black", "quantity": 1},
            ],
        }
    }
}


#: The customer and time each command is built for.
CUSTOMER = {"registered": "user@example.com"}
STAMP = 1_709_294_400.25


def twenty_products() -> dict:
    products = [
        {"name": f"Product {i}", "id": f"SKU-{i:05d}", "price": f"{10 + i}.99", "brand": "Brand",
         "category": "Apparel/Men/Shirts", "variant": "Blue", "quantity": 1 + i % 3,
         "position": i + 1, "dimension1": "size M"}
        for i in range(20)
    ]
    return {"ecommerce": {"currencyCode": "EUR", "purchase": {
        "actionField": {"id": "T20", "revenue": "500.00", "tax": "50", "shipping": "5"},
        "products": products}}}


def measure(payload: dict, repeat: int = 7, number: int = 2000) -> tuple[float, float]:
    """Best-of-median microseconds per call for ours and for the JSON floor."""
    text = json.dumps(payload)

    def ours() -> None:  # read, mapped and each command built
        for event in gee.to_exponea_events(json.loads(text)):
            event.to_command(CUSTOMER, timestamp=STAMP)

    def floor() -> None:
        json.dumps(json.loads(text))

    ours_t = statistics.median(timeit.repeat(ours, repeat=repeat, number=number)) / number
    floor_t = statistics.median(timeit.repeat(floor, repeat=repeat, number=number)) / number
    return ours_t * 1e6, floor_t * 1e6


def main() -> None:
    print(f"{'payload':<24}{'ours us':>10}{'floor us':>10}{'ratio':>8}")
    for name, payload in (("google purchase", GOOGLE_PURCHASE), ("20-product purchase",
                                                                  twenty_products())):
        ours, floor = measure(payload, number=2000 if name.startswith("google") else 300)
        print(f"{name:<24}{ours:>10.1f}{floor:>10.1f}{ours / floor:>8.1f}")


if __name__ == "__main__":
    main()
