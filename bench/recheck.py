"""What an upgrade of the cleaning code costs the next run: the recheck against a full redo.

One invocation, same code, same machine, same corpus (default: a deterministic share of
../shared/corpora/bbc), each run a fresh `newsdag run` process on one warehouse:
  1. a first run (every article processed: the cost of redoing everything);
  2. the same folder again, unchanged (the floor);
  3. the same folder after the warehouse's recorded cleaning-code fingerprint is replaced, as an upgrade
     of the cleaning rules would leave it: every stored article is cleaned again and compared;
  4. the same folder after the fingerprint is replaced and one article's stored body is edited (an article
     the new rules clean differently): that one is redone, the others are not.
Prints a table and writes bench/out/recheck/results.json.

Usage: python bench/recheck.py [--corpus DIR] [--fraction 0.25] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import fresh_out  # noqa: E402  (bench/pipeline.py)
from scaleout import run  # noqa: E402  (bench/scaleout.py)


def forget_cleaning_code(warehouse_path: Path, edit_one_article: bool) -> None:
    import duckdb

    with duckdb.connect(str(warehouse_path)) as con:
        con.execute("update warehouse_meta set value = 'an older cleaner' where key = 'setting.cleaning_code'")
        if edit_one_article:
            con.execute("update paragraphs set text = text || ' Next Story' where paragraph_id = "
                        "(select min(paragraph_id) from paragraphs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--fraction", type=float, default=0.25, help="share of the corpus files to use")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "recheck")
    args = parser.parse_args()

    out, raw, n_files = fresh_out(args.out, args.corpus, args.fraction)
    warehouse_path = out / "w.duckdb"
    env = {**os.environ, "NEWSDAG_RAW_DIR": str(raw), "NEWSDAG_WAREHOUSE": str(warehouse_path),
           "NEWSDAG_PREFECT_MODE": "ephemeral", "HF_HUB_OFFLINE": "1"}

    results = {"files": n_files, "first run": run(env), "unchanged": run(env)}
    forget_cleaning_code(warehouse_path, edit_one_article=False)
    results["recheck, nothing differs"] = run(env)
    forget_cleaning_code(warehouse_path, edit_one_article=True)
    results["recheck, one article differs"] = run(env)
    (out / "results.json").write_text(json.dumps(results, indent=2))

    full = results["first run"]["seconds_per_step"]["total"]
    print(f"{n_files} files; flow total s (ratio to the first run), clean + recheck s, articles redone")
    for name in ("first run", "unchanged", "recheck, nothing differs", "recheck, one article differs"):
        steps = results[name]["seconds_per_step"]
        print(f"| {name} | {steps['total']:.2f} ({steps['total'] / full:.2f}×) | "
              f"{steps.get('clean', 0) + steps.get('recheck', 0):.2f} | {results[name]['files'].get('redone', '')} |")


if __name__ == "__main__":
    main()
