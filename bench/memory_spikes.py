"""Where the flow's memory peaks: run it in this process and sample resident memory every 20 ms.

    .venv/bin/python bench/memory_spikes.py --raw-dir DIR [--warehouse FILE]

Prints, for each batch, the highest resident memory seen since the previous batch was loaded and the
step the flow's own thread was in at that moment (and whether the embedding thread was busy), then the
highest point seen in each (step, embedding busy) pair. The run's peak (`ru_maxrss`) is a running
maximum; this tells a transient that only coincides now and then from memory that accumulates.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flows.ingest as ingest_module  # noqa: E402
from flows.cli import connect_prefect  # noqa: E402
from tasks import heap  # noqa: E402

SAMPLE_SECONDS = 0.02


class Sampler:
    """Resident memory, sampled on a daemon thread, tagged with what the flow was doing."""

    def __init__(self) -> None:
        self.step = "start"
        self.embedding = False
        self.by_state: dict[tuple[str, bool], int] = {}
        self.window: tuple[int, tuple[str, bool]] = (0, ("start", False))
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            resident = heap.resident_bytes() >> 20
            state = (self.step, self.embedding)
            self.by_state[state] = max(self.by_state.get(state, 0), resident)
            if resident > self.window[0]:
                self.window = (resident, state)
            time.sleep(SAMPLE_SECONDS)

    def take_window(self) -> tuple[int, tuple[str, bool]]:
        window, self.window = self.window, (0, (self.step, self.embedding))
        return window


def instrument(sampler: Sampler, windows: list[tuple[int, tuple[str, bool]]]) -> None:
    """Wrap the flow module's step timer, embedding call and batch end to tell the sampler."""
    timed, embed_texts, finish_batch = ingest_module._timed, ingest_module.embed.embed_texts, ingest_module._finish_batch

    @contextlib.contextmanager
    def tagged_timed(timings: dict[str, float], name: str) -> Iterator[None]:
        previous, sampler.step = sampler.step, name
        try:
            with timed(timings, name):
                yield
        finally:
            sampler.step = previous

    def tagged_embed(*args, **kwargs):  # type: ignore[no-untyped-def]
        sampler.embedding = True
        try:
            return embed_texts(*args, **kwargs)
        finally:
            sampler.embedding = False

    def tagged_finish(*args, **kwargs):  # type: ignore[no-untyped-def]
        loaded = finish_batch(*args, **kwargs)
        windows.append(sampler.take_window())
        return loaded

    ingest_module._timed = tagged_timed
    ingest_module.embed.embed_texts = tagged_embed
    ingest_module._finish_batch = tagged_finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-dir", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, help="default: a fresh file in a temporary folder")
    args = parser.parse_args()
    warehouse = args.warehouse or Path(tempfile.mkdtemp(prefix="newsdag-spikes-")) / "spikes.duckdb"

    sampler, windows = Sampler(), []
    instrument(sampler, windows)
    threading.Thread(target=sampler.run, daemon=True).start()
    connect_prefect(ephemeral=True)
    state = ingest_module.ingest_flow(raw_dir=str(args.raw_dir), warehouse_path=str(warehouse), return_state=True)
    sampler.stopped = True
    if not state.is_completed():
        raise SystemExit(f"flow failed: {state.message}")

    print(f"warehouse {warehouse}")
    print("batch  highest MB  flow's step  embedding busy")
    for number, (resident, (step, embedding)) in enumerate(windows, start=1):
        print(f"{number:>5}  {resident:>10}  {step:<11}  {embedding}")
    print("highest MB by (flow's step, embedding busy):")
    for (step, embedding), resident in sorted(sampler.by_state.items(), key=lambda item: -item[1]):
        print(f"  {resident:>6}  {step:<11}  {embedding}")
    print(f"peak (ru_maxrss) {heap.peak_rss_mb()} MB")


if __name__ == "__main__":
    main()
