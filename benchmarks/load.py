"""How long `fv.load_default()` takes, in fresh processes, with a breakdown.

Each phase runs in its own fresh interpreter (`--repeats` times, median reported), so nothing is warm in
Python's module cache; the operating system's page cache is warm after the first repeat, as on a user's
second session. Prints wall and CPU seconds per phase and the load average, because on a shared box wall time
mostly measures the neighbours. The reference in the same run is the unavoidable floor: importing torch,
TransformerLens and sae-lens (a HookedTransformer and an sae-lens SAE cannot be had without them).

    .venv/bin/python benchmarks/load.py [--repeats 3] [--cold]

--cold also converts the embedded model from the GGUF into an empty temporary cache (FEATUREVIZ_CACHE),
i.e. the first load_default() a new user sees.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

PROBE = r"""
import json, sys, time
phases = []
def mark(name, start):
    phases.append((name, time.perf_counter() - start[0], time.process_time() - start[1]))
    start[:] = [time.perf_counter(), time.process_time()]
t = [time.perf_counter(), time.process_time()]
what = sys.argv[1]
if what == "import featureviz":
    import featureviz; mark("import featureviz", t)
    heavy = [m for m in ("transformer_lens", "sae_lens", "transformers") if m in sys.modules]
    phases.append(("heavy modules imported", heavy, None))
elif what == "floor":
    import torch; mark("import torch", t)
    import transformer_lens; mark("import transformer_lens", t)
    import sae_lens; mark("import sae_lens", t)
else:
    import featureviz as fv; mark("import featureviz", t)
    from featureviz import loading
    import transformer_lens; mark("import transformer_lens", t)
    import sae_lens; mark("import sae_lens", t)
    path = loading.embedded_model_dir(); mark("embedded_model_dir (convert if missing)", t)
    loading._read_converted(str((path / loading.WEIGHTS_FILE).resolve()),
                            (path / loading.WEIGHTS_FILE).stat().st_mtime_ns); mark("read config + tokenizer", t)
    model, source = fv.load_default(); mark("load_default (build model, map weights, SAE)", t)
    model(model.to_tokens("Hello")); mark("first forward", t)
    fv.load_default(); mark("second load_default, same process", t)
print("RESULT", json.dumps(phases))
"""


def run(what: str, env: dict | None = None) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE, what], capture_output=True, text=True, env=env, check=True)
    return json.loads(next(s for s in out.stdout.splitlines() if s.startswith("RESULT "))[7:])


def report(title: str, runs: list[list]) -> float:
    print(f"\n{title} (median of {len(runs)} fresh processes; wall / CPU seconds)")
    total_wall = total_cpu = 0.0
    for i, (name, *_rest) in enumerate(runs[0]):
        if runs[0][i][2] is None:
            print(f"  {name}: {runs[0][i][1]}")
            continue
        wall = statistics.median(r[i][1] for r in runs)
        cpu = statistics.median(r[i][2] for r in runs)
        print(f"  {name:48s} {wall:7.2f} / {cpu:6.2f}")
        if "second" not in name and "first forward" not in name:
            total_wall, total_cpu = total_wall + wall, total_cpu + cpu
    print(f"  {'total':48s} {total_wall:7.2f} / {total_cpu:6.2f}")
    return total_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time a first load into an empty cache")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    run("warm")  # converts if the cache is missing, and warms the page cache
    report("import featureviz", [run("import featureviz") for _ in range(args.repeats)])
    floor = report("floor: imports a loaded model needs", [run("floor") for _ in range(args.repeats)])
    warm = report("warm load_default()", [run("warm") for _ in range(args.repeats)])
    print(f"\nwarm load / import floor (CPU): {warm / floor:.2f}x")
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            report("cold load_default() into an empty cache", [run("cold", {**os.environ, "FEATUREVIZ_CACHE": cache})])
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
