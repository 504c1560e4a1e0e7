"""Where the flow's memory peaks: run it in this process and sample resident memory every 20 ms.

    .venv/bin/python bench/memory_spikes.py --raw-dir DIR [--warehouse FILE]

Prints, for each batch, the lowest, median and highest resident memory seen since the previous batch was
loaded, the step the flow's own thread was in at the highest (and whether the embedding thread was busy),
then the highest point seen in each (step, embedding busy) pair, and the batches' medians and highs by
thirds of the run. The run's peak (`ru_maxrss`) is a running maximum; this tells a transient that only
coincides now and then from memory that accumulates (a rising median or lowest point).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flows.batching as batching_module  # noqa: E402
import flows.ingest as ingest_module  # noqa: E402
from flows.cli import connect_prefect  # noqa: E402
from runtime import embedding_worker, heap  # noqa: E402

SAMPLE_SECONDS = 0.02


@dataclass
class Window:
    """Resident memory (MB) over one batch's window, and the flow's (step, embedding busy) at its highest."""

    lowest: int
    median: int
    highest: int
    state: tuple[str, bool]


class Sampler:
    """Resident memory, sampled on a daemon thread, tagged with what the flow was doing."""

    def __init__(self) -> None:
        self.step = "start"
        self.embedding = False
        self.by_state: dict[tuple[str, bool], int] = {}
        self.window: tuple[int, tuple[str, bool]] = (0, ("start", False))
        self.window_samples: list[int] = []
        self.stopped = False

    def run(self) -> None:
        while not self.stopped:
            # The flow's process and its embedding worker together.
            resident = (heap.resident_bytes() + embedding_worker.workers_resident_bytes()) >> 20
            state = (self.step, self.embedding)
            self.by_state[state] = max(self.by_state.get(state, 0), resident)
            if resident > self.window[0]:
                self.window = (resident, state)
            self.window_samples.append(resident)
            time.sleep(SAMPLE_SECONDS)

    def take_window(self) -> Window:
        (highest, state), samples = self.window, sorted(self.window_samples) or [0]
        self.window, self.window_samples = (0, (self.step, self.embedding)), []
        return Window(samples[0], samples[len(samples) // 2], highest, state)


def instrument(sampler: Sampler, windows: list[Window]) -> None:
    """Wrap the flow's step timer (as the flow and its batches call it), embedding call and batch end to tell the sampler."""
    timed, embed_texts, finish_batch = ingest_module.timed, batching_module.embed.embed_texts, batching_module.finish_batch

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

    ingest_module.timed = batching_module.timed = tagged_timed
    batching_module.embed.embed_texts = tagged_embed
    batching_module.finish_batch = tagged_finish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-dir", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, help="default: a fresh file in a temporary folder")
    args = parser.parse_args()
    warehouse = args.warehouse or Path(tempfile.mkdtemp(prefix="newsdag-spikes-")) / "spikes.duckdb"

    sampler = Sampler()
    windows: list[Window] = []
    instrument(sampler, windows)
    threading.Thread(target=sampler.run, daemon=True).start()
    connect_prefect(ephemeral=True)
    state = ingest_module.ingest_flow(raw_dir=str(args.raw_dir), warehouse_path=str(warehouse), return_state=True)
    sampler.stopped = True
    if not state.is_completed():
        raise SystemExit(f"flow failed: {state.message}")

    print(f"warehouse {warehouse}")
    print("batch  lowest  median  highest MB  flow's step at the highest  embedding busy")
    for number, window in enumerate(windows, start=1):
        step, embedding = window.state
        print(f"{number:>5}  {window.lowest:>6}  {window.median:>6}  {window.highest:>10}  {step:<26}  {embedding}")
    print("highest MB by (flow's step, embedding busy):")
    for (step, embedding), resident in sorted(sampler.by_state.items(), key=lambda item: -item[1]):
        print(f"  {resident:>6}  {step:<11}  {embedding}")
    print("by thirds of the run (batches): median of the batches' medians, highest of their highs")
    third = max(1, len(windows) // 3)
    for start in range(0, len(windows), third):
        part = windows[start:start + third]
        medians = sorted(window.median for window in part)
        print(f"  {start + 1:>3}-{start + len(part):<3}  {medians[len(medians) // 2]:>6}  {max(w.highest for w in part):>6}")
    print(f"peak (ru_maxrss) {heap.peak_rss_mb()} MB, embedding worker's peak {embedding_worker.workers_peak_rss_mb()} MB")


if __name__ == "__main__":
    main()
