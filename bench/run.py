"""``python -m bench.run [--quick | --smoke] [NAME ...]``: run the benchmarks and write bench/BENCHMARKS.md
(with --smoke, nothing is written unless --output names a file)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.size import Size

BENCHMARKS = {
    "overhead": "bench.overhead",
    "critical": "bench.critical_path",
    "throughput": "bench.throughput",
    "idle": "bench.idle",
    "queue": "bench.queue_claims",
    "import": "bench.directory_import",
    "mds": "bench.metadata",
    "durability": "bench.durability",
    "report": "bench.rollout_report",
    "cli": "bench.cli_start",
    "verify": "bench.keys_verify",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", dest="size", action="store_const", const=Size.QUICK, default=Size.FULL,
                       help="shorter runs (fewer repeats, smaller sizes)")
    sizes.add_argument("--smoke", dest="size", action="store_const", const=Size.SMOKE,
                       help="the smallest runs that go through every path (what `make test` runs); their figures "
                            "mean nothing and are not recorded")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the results (default {report.RESULTS.name}, none with --smoke)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    names = args.names or list(BENCHMARKS)
    failed = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        print(f"== {name}: {module.TITLE}", flush=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            try:
                section = module.run(Path(tmp), args.size)
            except Exception as e:
                logging.getLogger(__name__).exception("benchmark %s failed", name)
                failed.append(f"{name}: {e}")
                continue
        print("\n".join(section.lines), flush=True)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
        output = args.output or (report.RESULTS if args.size is not Size.SMOKE else None)
        if output is not None:
            report.write([section], list(BENCHMARKS), args.size, output)
    if failed:
        print("benchmarks that could not run:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
