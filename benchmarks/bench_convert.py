"""Benchmark ``ga-ee-bridge convert`` end to end against the floor of reading the same dump.

Generates a synthetic dump of N pushes (pages of 37 pushes: page variables, gtm.js/dom/load,
scroll events, ``{"ecommerce": null}`` clears, and one push of every ecommerce kind; about two
thirds carry no ecommerce; one page in twenty reloads the thank-you page). Then, each in its own
process, measures:

- the floor: read the file, ``json.loads`` + ``json.dumps`` each push;
- ``convert`` with ``--jobs 1`` and ``--jobs 2``;

and prints pushes/s, CPU seconds, peak RSS (the largest process, from ``wait4``), the ratio
ours/floor (wall and CPU), the RSS growth from the smallest to the largest size and the jobs
speed-up (wall, and the bound its CPU time allows on two idle cores: a shared machine's other
processes take cores away, which the load average printed before each size shows).

    python benchmarks/bench_convert.py                  # 100k and 1M pushes, JSONL
    python benchmarks/bench_convert.py --form json --sizes 100000
    python benchmarks/bench_convert.py --sizes 20000 --products 100   # RSS with big pushes
    python benchmarks/bench_convert.py --realistic --sizes 300000     # issue 13's realistic dump

``--realistic`` writes pages of 8 to 60 pushes instead (GTM events, custom events, clears, and a
quarter with ecommerce: UA kinds with 1 to 20 products a list, a fifth of them GA4 events with 1 to
20 items), from the same fixed seed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("impressions", "click", "detail", "add", "remove", "promoView", "promoClick",
         "checkout", "checkout_option", "purchase", "refund")
T0 = 1_709_294_400_000

FLOOR_JSONL = """
import json, sys
dumps, loads = json.dumps, json.loads
with open(sys.argv[1], "rb") as f:
    for line in f:
        dumps(loads(line))
"""
FLOOR_JSON = """
import json, sys
dumps, raw = json.dumps, json.JSONDecoder().raw_decode
with open(sys.argv[1], encoding="utf-8") as f:
    buf, pos = f.read(1 << 20), 1
    while True:
        try:
            value, end = raw(buf, pos)
        except ValueError:
            more = f.read(1 << 20)
            if not more:
                break
            buf, pos = buf[pos:] + more, 0
            continue
        if end >= len(buf) - 1:
            more = f.read(1 << 20)
            if more:
                buf, pos = buf[pos:] + more, 0
                continue
        dumps(value)
        pos = end + 1
"""


def _product(rng: random.Random, index: int, quantity: bool = False) -> dict[str, Any]:
    product: dict[str, Any] = {
        "id": f"SKU-{rng.randrange(100_000)}", "name": f"Product {index}", "brand": "Acme",
        "category": "Apparel/Shirts", "variant": rng.choice(["Red", "Blue", "Black"]),
        "price": f"{rng.randrange(100, 20_000) / 100:.2f}",
    }
    if quantity:
        product["quantity"] = rng.randrange(1, 4)
    return product


def _ecommerce(rng: random.Random, kind: str, page: int, products: int = 0) -> dict[str, Any]:
    """One ecommerce section of ``kind``; ``products``: that many in every list (0: 1-4)."""
    if kind == "impressions":
        section: Any = [dict(_product(rng, i), list="Search", position=i + 1) for i in range(products or 4)]
    elif kind in ("promoView", "promoClick"):
        section = {"promotions": [{"id": "SUMMER", "name": "Summer Sale", "creative": "hero",
                                   "position": "slot1"}]}
    elif kind == "checkout_option":
        section = {"actionField": {"step": 2, "option": "DHL"}}
    elif kind == "purchase":
        transaction = f"T{page - 1 if page % 20 == 19 else page}"  # a reload now and then
        section = {"actionField": {"id": transaction, "affiliation": "Online Store",
                                   "revenue": "35.43", "tax": "4.90", "shipping": "5.99"},
                   "products": [_product(rng, i, True) for i in range(products or 2)]}
    elif kind == "refund":
        section = {"actionField": {"id": f"T{page}"}}
    elif kind == "checkout":
        section = {"actionField": {"step": 1, "option": "Visa"},
                   "products": [_product(rng, i, True) for i in range(products or 2)]}
    else:
        section = {"actionField": {"list": "Search"},
                   "products": [_product(rng, i, kind in ("add", "remove"))
                                for i in range(products or 1)]}
    return {"currencyCode": "EUR", kind: section}


def page_pushes(rng: random.Random, page: int, products: int = 0) -> list[dict[str, Any]]:
    """One page of 37 pushes, 11 of them with ecommerce (``products``: see :func:`_ecommerce`)."""
    pushes: list[dict[str, Any]] = [
        {"pageType": "product", "user": {"email": f" User{page % 5000}@Example.com "}},
        {"gtm.start": T0 + page * 60_000, "event": "gtm.js", "gtm.uniqueEventId": 1},
        {"event": "gtm.dom", "gtm.uniqueEventId": 2},
        {"event": "gtm.load", "gtm.uniqueEventId": 3},
    ]
    for number, kind in enumerate(KINDS):
        pushes.append({"event": "gtm.scrollDepth", "gtm.scrollThreshold": 25 * (number % 4),
                       "gtm.uniqueEventId": 4 + 3 * number})
        pushes.append({"ecommerce": None})
        pushes.append({"event": kind, "ecommerce": _ecommerce(rng, kind, page, products),
                       "gtm.uniqueEventId": 6 + 3 * number})
    return pushes


#: The realistic dump's ecommerce pushes: UA kinds and GA4 events, with their weights.
UA_WEIGHTS = {"impressions": 24, "detail": 18, "click": 10, "add": 12, "remove": 3,
              "promoView": 7, "promoClick": 2, "checkout": 8, "checkout_option": 2,
              "purchase": 6, "refund": 1}
GA4_WEIGHTS = {"view_item_list": 8, "view_item": 6, "add_to_cart": 4, "begin_checkout": 2,
               "purchase": 2}
_REALISTIC_KINDS = [*UA_WEIGHTS, *(f"ga4:{name}" for name in GA4_WEIGHTS)]
_REALISTIC_WEIGHTS = [*UA_WEIGHTS.values(), *GA4_WEIGHTS.values()]


def _ga4_item(rng: random.Random, index: int) -> dict[str, Any]:
    return {"item_id": f"SKU-{rng.randrange(100_000)}", "item_name": f"Product {index}",
            "item_brand": "Acme", "item_category": "Apparel", "item_category2": "Shirts",
            "item_variant": rng.choice(["Red", "Blue", "Black"]), "index": index,
            "price": rng.randrange(100, 20_000) / 100, "quantity": rng.randrange(1, 4)}


def _ga4_push(rng: random.Random, name: str, page: int, number: int) -> dict[str, Any]:
    """A GA4 ecommerce push (``event`` + ``ecommerce.items``) of 1 to 20 items."""
    items = [_ga4_item(rng, i) for i in range(rng.randint(1, 20))]
    ecommerce: dict[str, Any] = {"currency": "EUR", "items": items}
    if name != "view_item_list":
        ecommerce["value"] = round(sum(item["price"] * item["quantity"] for item in items), 2)
    else:
        ecommerce["item_list_name"] = "Search"
    if name == "purchase":
        ecommerce.update(transaction_id=f"G{page}-{number}", tax=4.9, shipping=5.99)
    return {"event": name, "ecommerce": ecommerce}


def _other_push(rng: random.Random, page: int, number: int) -> dict[str, Any]:
    """A push without ecommerce: GTM's own events, custom events, clears, variables."""
    choice = rng.randrange(6)
    if choice == 0:
        return {"event": "gtm.scrollDepth", "gtm.scrollThreshold": rng.choice([25, 50, 75, 90]),
                "gtm.scrollUnits": "percent", "gtm.uniqueEventId": number}
    if choice == 1:
        return {"event": "gtm.click", "gtm.elementClasses": "btn btn-primary",
                "gtm.elementId": f"cta-{rng.randrange(40)}",
                "gtm.elementUrl": f"https://shop.example.com/p/{rng.randrange(5000)}",
                "gtm.uniqueEventId": number}
    if choice == 2:
        return {"ecommerce": None}
    if choice == 3:
        return {"event": "gtm.timer", "gtm.timerId": 1, "gtm.timerInterval": 30000,
                "gtm.timerEventNumber": number, "gtm.uniqueEventId": number}
    if choice == 4:
        return {"event": "newsletter_view", "form": {"id": "footer", "variant": "B"},
                "consent": {"analytics": True, "ads": False}}
    return {"event": "gtm.historyChange", "gtm.newUrlFragment": f"tab{number}",
            "gtm.oldUrlFragment": "", "gtm.historyChangeSource": "pushState"}


def realistic_page(rng: random.Random, page: int, ga4: bool = True) -> list[dict[str, Any]]:
    """One page of 8 to 60 pushes, a quarter of them with ecommerce: UA kinds (1 to 20
    products a list) and (``ga4``) some GA4 events (1 to 20 items) among GTM and custom events."""
    pushes: list[dict[str, Any]] = [
        {"pageType": rng.choice(["home", "category", "product", "cart", "checkout"]),
         "user": {"email": f" User{page % 5000}@Example.com ", "loggedIn": page % 3 == 0}},
        {"gtm.start": T0 + page * 60_000, "event": "gtm.js", "gtm.uniqueEventId": 1},
        {"event": "gtm.dom", "gtm.uniqueEventId": 2},
        {"event": "gtm.load", "gtm.uniqueEventId": 3},
    ]
    length = rng.randint(8, 60)
    while len(pushes) < length:
        number = len(pushes) + 1
        if rng.random() >= 0.28:  # with the 4 pushes above, about a quarter carry ecommerce
            pushes.append(_other_push(rng, page, number))
            continue
        kind = rng.choices(*((_REALISTIC_KINDS, _REALISTIC_WEIGHTS) if ga4 else
                             (list(UA_WEIGHTS), list(UA_WEIGHTS.values()))))[0]
        if kind.startswith("ga4:"):
            pushes.append(_ga4_push(rng, kind[4:], page, number))
        else:
            pushes.append({"event": kind, "gtm.uniqueEventId": number,
                           "ecommerce": _ecommerce(rng, kind, page, rng.randint(1, 20))})
    return pushes


def generate(path: Path, count: int, form: str, products: int = 0, *,
             realistic: bool | str = False) -> None:
    """Write a synthetic dump of ``count`` pushes (``jsonl`` or a ``json`` list); ``products``:
    that many products in every product list (0: the usual 1 to 4); ``realistic``: pages of
    :func:`realistic_page` instead (``products`` is then ignored; ``"ua"``: without GA4)."""
    rng = random.Random(20240301)
    written = page = 0
    with open(path, "w", encoding="utf-8") as out:
        if form == "json":
            out.write("[")
        while written < count:
            pushes = (realistic_page(rng, page, ga4=realistic != "ua") if realistic
                      else page_pushes(rng, page, products))
            for push in pushes:
                if written >= count:
                    break
                if form == "json":
                    out.write(("," if written else "") + json.dumps(push, separators=(",", ":")))
                else:
                    out.write(json.dumps(push) + "\n")
                written += 1
            page += 1
        if form == "json":
            out.write("]")


def compile_package() -> None:
    """Write the package's bytecode, as installing it does (``PYTHONDONTWRITEBYTECODE`` would
    otherwise make every measured process compile its sources again: start-up, not our code)."""
    compileall.compile_dir(ROOT / "ga_ee_bridge", quiet=1)


def measure(args: list[str]) -> dict[str, float]:
    """Run a process; wall seconds, CPU seconds (it and its workers), peak RSS in MiB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 3):
        raise SystemExit(f"{args} failed with status {process.returncode}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}


def machine_parallelism() -> float:
    """How much faster two busy processes finish than one after the other, right now (~2 on
    two idle cores; ~1 when other processes already keep a core busy)."""
    busy = [sys.executable, "-c", "sum(range(30_000_000))"]
    started = time.perf_counter()
    subprocess.run(busy, check=True)
    one = time.perf_counter() - started
    started = time.perf_counter()
    pair = [subprocess.Popen(busy) for _ in range(2)]
    for process in pair:
        process.wait()
    return 2 * one / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--form", choices=("jsonl", "json"), default="jsonl")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per measurement; the fastest is kept (shared machines)")
    parser.add_argument("--products", type=int, default=0,
                        help="products in every product list (default: 1 to 4; try 100)")
    parser.add_argument("--realistic", nargs="?", const="mixed", choices=("mixed", "ua"),
                        help="pages of 8 to 60 pushes, a quarter with ecommerce (UA and a "
                        "fifth GA4; 'ua': UA only), 1 to 20 products a list (--products is "
                        "ignored)")
    parser.add_argument("--dir", default=None, help="where to write the dumps (default: tmp)")
    options = parser.parse_args()
    compile_package()
    floor_code = FLOOR_JSONL if options.form == "jsonl" else FLOOR_JSON
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(dir=options.dir) as tmp:
        for size in options.sizes:
            dump = Path(tmp) / f"dump-{size}.{options.form}"
            generate(dump, size, options.form, options.products, realistic=options.realistic)
            out = Path(tmp) / "out.jsonl"
            runs = {
                "floor": [sys.executable, "-c", floor_code, str(dump)],
                "jobs1": [sys.executable, "-m", "ga_ee_bridge", "convert", str(dump), "-o",
                          str(out), "-q", "--id", "registered=user.email", "--jobs", "1"],
                "jobs2": [sys.executable, "-m", "ga_ee_bridge", "convert", str(dump), "-o",
                          str(out), "-q", "--id", "registered=user.email", "--jobs", "2"],
            }
            results[size] = {}
            load = os.getloadavg()[0]
            print(f"load average {load:.2f}; two busy processes run "
                  f"{machine_parallelism():.2f}x faster than one after the other", flush=True)
            if load > 0.5:
                print("warning: other processes compete for the CPUs: wall times, and the jobs "
                      "speed-up, suffer", flush=True)
            for name, command in runs.items():
                best = min((measure(command) for _ in range(options.repeat)),
                           key=lambda run: run["wall"])
                results[size][name] = best
                print(f"{size:>9,} pushes {name:>5}: {best['wall']:7.2f} s wall "
                      f"{best['cpu']:7.2f} s cpu {size / best['wall']:>10,.0f} pushes/s "
                      f"peak RSS {best['rss']:6.1f} MiB", flush=True)
            floor, one, two = (results[size][key] for key in ("floor", "jobs1", "jobs2"))
            print(f"{size:>9,} pushes: ours/floor {one['wall'] / floor['wall']:.2f} wall, "
                  f"{one['cpu'] / floor['cpu']:.2f} cpu (target: 2.0, 2.2 realistic); jobs 2 vs 1 "
                  f"{one['wall'] / two['wall']:.2f}x wall (target >= 1.7), "
                  f"{2 * one['cpu'] / two['cpu']:.2f}x at most on 2 idle cores "
                  f"(cpu {two['cpu'] / one['cpu']:.2f} of jobs 1)", flush=True)
    small, large = min(results), max(results)
    if small != large:
        growth = results[large]["jobs1"]["rss"] / results[small]["jobs1"]["rss"]
        print(f"peak RSS {large:,} vs {small:,} pushes (jobs 1): {growth:.2f}x (target <= 1.2)")


if __name__ == "__main__":
    main()
