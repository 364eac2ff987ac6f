"""Rerun the CI smoke benchmark and, on purpose, overwrite its committed baseline.

    python scripts/refresh_smoke_baseline.py           # rerun, show the change, rewrite the baseline
    python scripts/refresh_smoke_baseline.py --check   # rerun and compare only, as the CI test does

The baseline is `reports/baselines/smoke/`: metrics.csv and summary.csv of the smoke run, and a
manifest.json with the config, versions and commit that produced them. Refresh it only when a
change to EGO-Edit, the tiny model or the metrics is meant to move the numbers, and commit the
new files together with that change.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from egobench.run_folder import MANIFEST, METRICS_CSV, SUMMARY_CSV  # noqa: E402

# Manifest keys that change with every rerun or name temporary paths; the baseline keeps the rest.
VOLATILE_KEYS = ("argv", "started_at", "first_started_at", "finished_at", "bench_options", "fingerprint")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the baseline and leave it unchanged")
    parser.add_argument("--write-fixture", action="store_true", help="also redraw datasets/smoke/ from its generator")
    arguments = parser.parse_args()

    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(variable, "1")

    from egobench.cli import main as egobench
    from egobench.logs import setup_logging
    from egobench.report.smoke import SMOKE_BASELINE, SMOKE_FIXTURE, run_smoke, write_smoke_fixture

    setup_logging()
    if arguments.write_fixture:
        write_smoke_fixture(SMOKE_FIXTURE)

    with tempfile.TemporaryDirectory(prefix="egobench-smoke-") as temporary:
        run_dir = run_smoke(Path(temporary) / "run")
        if (SMOKE_BASELINE / METRICS_CSV).is_file():
            compare = [
                "compare", str(SMOKE_BASELINE), str(run_dir),
                "--fail-on", "change", "--tolerances", str(SMOKE_BASELINE / "tolerances.yaml"),
            ]  # fmt: skip
            try:
                status = egobench.main(compare, prog_name="egobench", standalone_mode=False)
            except SystemExit as exit_:
                status = exit_.code
            if arguments.check:
                return status or 0
        elif arguments.check:
            print(f"error: {SMOKE_BASELINE / METRICS_CSV} not found; run without --check to create it", file=sys.stderr)
            return 2

        SMOKE_BASELINE.mkdir(parents=True, exist_ok=True)
        for name in (METRICS_CSV, SUMMARY_CSV):
            shutil.copyfile(run_dir / name, SMOKE_BASELINE / name)
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
        for key in VOLATILE_KEYS:
            manifest.pop(key, None)
        (SMOKE_BASELINE / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SMOKE_BASELINE}; review `git diff {SMOKE_BASELINE}` and commit it with the change that moved it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
