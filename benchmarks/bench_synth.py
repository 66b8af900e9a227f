"""Time `cdk synth` of the whole app against a minimal one-bucket app, in the same run.

Prints the median wall time of each over several alternating runs and their ratio (target: at
most 1.5). Both go through the same pinned CLI, Python and cdk.json context, so the ratio shows
what this app adds over CDK's own start-up cost.

    make bench            # or: .venv/bin/python benchmarks/bench_synth.py --runs 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5


def synth_seconds(app_command: str | None, outdir: Path) -> float:
    command = [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-o", str(outdir)]
    if app_command:
        command += ["--app", app_command]
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    full: list[float] = []
    minimal: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs + 1):
            outdir = Path(tmp) / f"run{run}"
            m = synth_seconds("python3 benchmarks/minimal_app.py", outdir / "minimal")
            f = synth_seconds(None, outdir / "full")
            shutil.rmtree(outdir)
            if run:  # the first round warms file caches and is not counted
                minimal.append(m)
                full.append(f)
    full_median, minimal_median = statistics.median(full), statistics.median(minimal)
    ratio = full_median / minimal_median
    print(f"cdk synth, whole app:      median {full_median:.2f} s over {args.runs} runs")
    print(f"cdk synth, one-bucket app: median {minimal_median:.2f} s over {args.runs} runs")
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"ratio {ratio:.2f} ({verdict} the target of {TARGET_RATIO})")


if __name__ == "__main__":
    main()
