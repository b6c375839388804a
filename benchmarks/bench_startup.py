"""Benchmark the start-up cost of ``ga-ee-bridge``: the CPU a command spends before any real work.

Each row runs its own process ``--repeat`` times and keeps the least CPU (``ru_utime + ru_stime``
from ``wait4``: the quietest run is the closest to what the code costs). Rows:

- ``python -c pass``: the interpreter alone, the floor nothing can go under;
- ``import ga_ee_bridge``: the package (its names are imported lazily);
- ``convert one push``: ``python -m ga_ee_bridge convert ONE.jsonl -o OUT -q`` on a one-line dump
  (one purchase): what every small conversion pays, and a share of every big one;
- ``validate one push`` and ``convert --help``: the same for ``validate`` and for the help page;
- ``one Exponea client`` and ``ten Exponea clients`` (each made and closed): the difference over
  nine is what each further client costs (its TLS settings are made once a process).

Every run finds its bytecode cached, as an installed package does: the processes keep it under
their own ``PYTHONPYCACHEPREFIX`` (a temporary directory, filled by one warm-up run of each row),
so neither ``PYTHONDONTWRITEBYTECODE`` nor a stale ``__pycache__`` changes the numbers.

    python benchmarks/bench_startup.py                 # 10 runs a row
    python benchmarks/bench_startup.py --repeat 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURCHASE = {
    "event": "purchase", "gtm.start": 1_709_294_400_000,
    "ecommerce": {"purchase": {
        "actionField": {"id": "T1", "revenue": "10.00"},
        "products": [{"id": "SKU1", "name": "Shirt", "price": "10.00", "quantity": 1}],
    }},
}


#: ``n`` clients made and closed, one after the other (no request: what making one costs).
_CLIENTS = ("import ga_ee_bridge as g\n"
            "for _ in range({n}): g.Exponea('project', public_token='token').close()")


def cpu_seconds(args: list[str], cache: str) -> float:
    """Run a process to its end, its bytecode under ``cache``; its CPU seconds (user + system)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"{args} failed with status {os.waitstatus_to_exitcode(status)}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs a row (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        dump = Path(tmp) / "one.jsonl"
        dump.write_text(json.dumps(PURCHASE) + "\n", encoding="utf-8")
        out = str(Path(tmp) / "out.jsonl")
        python = sys.executable
        rows = {
            "python -c pass": [python, "-c", "pass"],
            "import ga_ee_bridge": [python, "-c", "import ga_ee_bridge"],
            "convert one push": [python, "-m", "ga_ee_bridge", "convert", str(dump), "-o", out,
                                 "-q"],
            "validate one push": [python, "-m", "ga_ee_bridge", "validate", str(dump), "-q"],
            "convert --help": [python, "-m", "ga_ee_bridge", "convert", "--help"],
            "one Exponea client": [python, "-c", _CLIENTS.format(n=1)],
            "ten Exponea clients": [python, "-c", _CLIENTS.format(n=10)],
        }
        print(f"load average {os.getloadavg()[0]:.2f}; CPU seconds, least of {args.repeat} runs")
        floor = None
        cache = str(Path(tmp) / "pycache")
        for name, command in rows.items():
            cpu_seconds(command, cache)  # warm-up: writes the bytecode
            best = min(cpu_seconds(command, cache) for _ in range(args.repeat))
            floor = best if floor is None else floor
            print(f"  {name:<20} {best:6.3f} s   {best - floor:6.3f} s over the interpreter")
        print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
