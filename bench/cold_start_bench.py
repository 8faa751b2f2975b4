"""Cold start: how long ``import app`` takes in a fresh process, as each Lambda function pays it.

python -m bench.cold_start_bench [--runs 10] [--top 15] [--project-dir DIR]

Runs ``python -c 'import app'`` ``--runs`` times, each in a new process with the prod stage's
environment variables (``.chalice/config.json``) and nothing else of this shell's, and prints the
minimum and the median of two figures: the import alone (timed inside the process) and the whole
process (interpreter start to exit, timed outside). Then the same for ``import app`` followed by
every module the app holds as a ``chalicelib.lazy`` stand-in: what a process that ends up using
every handler pays, which is what ``import app`` cost when nothing was deferred. Last, one more run
under ``python -X importtime`` lists the modules ``import app`` spends most on (cumulative, at most
two levels deep) and the time by top-level package (own time summed).

``--project-dir`` measures another checkout of the backend with this interpreter (the figures
before a change: ``git archive main | tar -x -C DIR``); given more than once, the checkouts take
turns run by run, so that a busy machine slows each alike. No AWS is reached: nothing is called.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]

IMPORT_APP = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
# Every chalicelib.lazy stand-in the app's modules hold, imported after the app.
IMPORT_ALL = """\
import sys, time
t = time.perf_counter()
import app
names = {
    object.__getattribute__(value, "_lazy_name")
    for module in list(sys.modules.values())
    if (getattr(module, "__name__", "") or "").split(".")[0] in ("app", "chalicelib")
    for value in list(vars(module).values())
    if type(value).__name__ == "_Deferred"
}
for name in sorted(names):
    __import__(name)
print(time.perf_counter() - t)
"""


def stage_environment(project_dir: Path, stage: str = "prod") -> dict[str, str]:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    variables: dict[str, str] = config["stages"][stage]["environment_variables"]
    # What Lambda's runtime adds; PATH and HOME only so that the interpreter starts as usual.
    lambda_like = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "LANG": "C.UTF-8"}
    here = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return {**here, **lambda_like, **variables}


def one_run(code: str, project_dir: Path) -> tuple[float, float]:
    """Seconds of the import (timed inside the process) and of the whole process (outside)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project_dir,
        env=stage_environment(project_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed in {project_dir}:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1]), elapsed_s


def timed_runs(code: str, project_dirs: list[Path], runs: int) -> dict[Path, list[tuple[float, float]]]:
    """``runs`` runs per checkout, taking turns, so that the machine's load falls on each alike."""
    for project_dir in project_dirs:  # unmeasured: writes the bytecode caches a package ships with
        one_run(code, project_dir)
    timings: dict[Path, list[tuple[float, float]]] = {d: [] for d in project_dirs}
    for _ in range(runs):
        for project_dir in project_dirs:
            timings[project_dir].append(one_run(code, project_dir))
    return timings


def import_profile(project_dir: Path) -> list[tuple[int, int, str]]:
    """(own µs, cumulative µs, indented name) per module, from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=project_dir,
        env=stage_environment(project_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(own), int(cumulative), name.rstrip()))
    return rows


def milliseconds(values: list[float]) -> str:
    return f"min {min(values) * 1000:6.1f} ms   median {statistics.median(values) * 1000:6.1f} ms"


def print_profile(project_dir: Path, top: int) -> None:
    rows = import_profile(project_dir)
    print(f"\n`import app` under -X importtime: {sum(own for own, _, _ in rows) / 1000:.1f} ms in all")
    print("modules, by cumulative time (at most two levels deep):")
    shallow = [r for r in rows if len(r[2]) - len(r[2].lstrip()) <= 5]
    for _, cumulative, name in sorted(shallow, reverse=True, key=lambda r: r[1])[:top]:
        print(f"  {cumulative / 1000:7.1f} ms  {name.strip()}")
    by_package: dict[str, int] = defaultdict(int)
    for own, _, name in rows:
        by_package[name.strip().split(".")[0]] += own
    print("top-level packages, own time summed:")
    for package, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {own / 1000:7.1f} ms  {package}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start_bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per figure (default 10)")
    parser.add_argument("--top", type=int, default=15, help="modules and packages to list (default 15)")
    parser.add_argument(
        "--project-dir",
        type=Path,
        action="append",
        help="a checkout to measure (default this one); given again, the checkouts take turns",
    )
    args = parser.parse_args(argv)
    project_dirs = [d.resolve() for d in args.project_dir or [PROJECT_DIR]]

    print(f"{args.runs} fresh processes each, {sys.executable} (Python {sys.version.split()[0]})")
    for label, code in (("import app", IMPORT_APP), ("import app + every deferred module", IMPORT_ALL)):
        print(label)
        for project_dir, timings in timed_runs(code, project_dirs, args.runs).items():
            if len(project_dirs) > 1:
                print(f"  {project_dir}")
            print(f"    the import    {milliseconds([inside for inside, _ in timings])}")
            print(f"    the process   {milliseconds([outside for _, outside in timings])}")
    for project_dir in project_dirs:
        print_profile(project_dir, args.top)


if __name__ == "__main__":
    main()
