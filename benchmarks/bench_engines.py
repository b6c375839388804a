"""Benchmark the engines against the CLI on the same pushes: Beam's DirectRunner, Spark local.

Generates N pushes (200k by default, the synthetic pages of ``bench_convert.py``) in F JSONL files,
then, each in its own process, converts them to commands written as JSON lines with:

- ``ga-ee-bridge convert --jobs 2`` (the baseline);
- Beam: ``ConvertDumps`` on the DirectRunner, 2 workers in multi-processing mode;
- Spark: ``ga_ee_bridge.spark.convert_dumps`` on ``local[2]``;

and prints wall and CPU seconds, pushes/s and peak RSS, and checks the three wrote the same
commands (compared sorted). Spark's CPU and RSS are its Python driver's only (the JVM and its
Python workers are not this process's waited-for children). Needs the extras ``beam`` and ``spark``; run by hand:

    python benchmarks/bench_engines.py                  # 200k pushes in 4 files
    python benchmarks/bench_engines.py --pushes 50000 --files 2 --only cli,beam
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_convert import generate, machine_parallelism, measure

OPTIONS = "ConvertOptions(ids=(IdSpec.parse('registered=user.email'),))"

BEAM = f"""
import json, sys
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from ga_ee_bridge.beam import ConvertDumps
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
pattern, out = sys.argv[1], sys.argv[2]
options = PipelineOptions(runner="DirectRunner", direct_num_workers=2,
                          direct_running_mode="multi_processing")
with beam.Pipeline(options=options) as pipeline:
    result = pipeline | beam.Create([pattern]) | ConvertDumps({OPTIONS})
    result.commands | beam.Map(json.dumps) | beam.io.WriteToText(out + "/commands")
"""

SPARK = f"""
import json, os, sys
os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
from pyspark.sql import SparkSession
from ga_ee_bridge.convert.options import ConvertOptions, IdSpec
from ga_ee_bridge.spark import convert_dumps
pattern, out = sys.argv[1], sys.argv[2]
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
result = convert_dumps(spark.sparkContext, pattern, {OPTIONS}, partitions=4)
result.commands.map(json.dumps).saveAsTextFile(out + "/commands")
spark.stop()
"""


def commands_in(pattern: str) -> list[str]:
    """Every command line written under ``pattern``, canonical and sorted."""
    lines = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8") as stream:
            lines += [json.dumps(json.loads(line), sort_keys=True) for line in stream if line.strip()]
    return sorted(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--only", default="cli,beam,spark")
    args = parser.parse_args()
    chosen = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as work:
        root = Path(work)
        data = root / "dumps"
        data.mkdir()
        each = args.pushes // args.files
        for number in range(args.files):
            generate(data / f"part-{number:03d}.jsonl", each, "jsonl")
        total = each * args.files
        files = sorted(str(path) for path in data.iterdir())
        print(f"{total:,} pushes in {args.files} files; load {os.getloadavg()[0]:.2f}, "
              f"{machine_parallelism():.2f} cores free of 2")
        runs = {
            "cli": ([sys.executable, "-m", "ga_ee_bridge", "convert", "--jobs", "2", "--quiet",
                     "--id", "registered=user.email",
                     "-o", str(root / "cli.jsonl"), *files], str(root / "cli.jsonl")),
            "beam": ([sys.executable, "-c", BEAM, str(data / "*.jsonl"), str(root / "beam")],
                     str(root / "beam" / "commands*")),
            "spark": ([sys.executable, "-c", SPARK, str(data / "*.jsonl"), str(root / "spark")],
                      str(root / "spark" / "commands" / "part-*")),
        }
        outputs = {}
        for name in chosen:
            command, written = runs[name]
            got = measure(command)
            outputs[name] = commands_in(written)
            cpu = "driver only" if name == "spark" else "with its workers"
            print(f"{name:>6}: {got['wall']:7.2f} s wall, {got['cpu']:7.2f} s CPU ({cpu}), "
                  f"{total / got['wall']:9,.0f} pushes/s, peak RSS {got['rss']:6.0f} MiB, "
                  f"{len(outputs[name]):,} commands")
        first = next(iter(outputs.values()))
        same = all(output == first for output in outputs.values())
        print("same commands (sorted):", "yes" if same else "NO")
        if not same:
            for name, output in outputs.items():
                missing = sorted(set(first) - set(output))
                print(f"{name}: {len(missing)} commands of the first run missing, e.g.",
                      missing[:1])
            raise SystemExit(1)


if __name__ == "__main__":
    main()
