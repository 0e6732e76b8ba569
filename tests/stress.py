"""Run the whole suite repeatedly beside busy processes: ``make test-stress RUNS=10 HOGS=2``.

CI runs on a shared 2-core machine; a test that passes alone and fails beside two busy
processes is a defect. This starts ``--hogs`` pure-Python busy loops (each takes a core
when it can), runs the suite ``--runs`` times in a row while they spin, prints one line per
run (result, duration, the failures' ids) and a summary, and exits 1 if any run failed.
Extra arguments after ``--`` go to pytest.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HOG = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    """Run the stress loop; the exit status says whether every run passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument(
        "--save", default="var/stress", help="directory for the full output of failed runs"
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(args.hogs)]
    results: list[tuple[bool, float, list[str]]] = []
    try:
        for run in range(1, args.runs + 1):
            began = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                capture_output=True,
                text=True,
            )
            elapsed = time.monotonic() - began
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.M)
            ok = done.returncode == 0
            results.append((ok, elapsed, failed))
            tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
            print(f"run {run}/{args.runs}: {'pass' if ok else 'FAIL'} in {elapsed:.0f}s: {tail[0]}")
            for test in failed:
                print(f"    {test}")
            if not ok:
                saved = Path(args.save) / f"run-{run}.txt"
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(done.stdout + "\n" + done.stderr)
                print(f"    full output: {saved}")
            sys.stdout.flush()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    passed = sum(ok for ok, _, _ in results)
    slowest = max(elapsed for _, elapsed, _ in results)
    print(
        f"{passed}/{len(results)} runs passed beside {args.hogs} busy processes; "
        f"slowest run {slowest:.0f}s"
    )
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
