-- newsdag warehouse schema. Applied at the start of every run; every statement is idempotent.
-- {embedding_dim} is filled in from the settings (384 for the default all-MiniLM-L6-v2).

create table if not exists runs (
    run_id        varchar primary key,
    started_at    timestamp not null,
    finished_at   timestamp,
    status        varchar not null,          -- running, completed, failed
    raw_dir       varchar,
    summary       json
);

create table if not exists ingest_files (
    source_path    varchar primary key,      -- relative to the raw folder
    content_sha256 varchar,                  -- null when the file could not be read
    size_bytes     bigint,
    status         varchar not null,         -- loaded, unchanged, duplicate, failed, deleted
    change         varchar,                  -- new, changed, unchanged (relative to the previous run)
    duplicate_of   varchar,                  -- source_path of the first byte-identical file
    encoding       varchar,                  -- how the bytes were decoded (utf-8, utf-8-sig, cp1252, latin-1)
    error          varchar,                  -- why a failed file failed
    article_id     varchar,
    first_seen_at  timestamp not null,
    last_seen_at   timestamp not null,
    run_id         varchar not null
);

create table if not exists articles (
    article_id       varchar primary key,    -- stable: derived from source_path
    source_path      varchar not null unique,
    content_sha256   varchar not null,
    title            varchar,
    subtitle         varchar,
    authors          varchar[],
    contributors     varchar[],
    published        date,
    updated_note     varchar,
    url              varchar,
    publisher        varchar,
    dateline         varchar,
    wire_source      varchar,
    section_headings varchar[],
    language         varchar,                -- ISO 639-1 code of the body (langdetect), null when too short to tell
    updated          date,                   -- last-updated date, when the text gives one
    body             varchar not null,       -- cleaned text, paragraphs separated by a blank line
    n_words          integer not null,
    n_paragraphs     integer not null,
    ingested_at      timestamp not null,
    run_id           varchar not null
);

-- The decoded input, so that body + removed_spans can always be traced back to it.
create table if not exists article_sources (
    article_id varchar primary key,
    encoding   varchar not null,
    raw_text   varchar not null
);

create table if not exists removed_spans (
    article_id varchar not null,
    start_char integer not null,             -- offsets into article_sources.raw_text
    end_char   integer not null,
    text       varchar not null,
    reason     varchar not null,             -- the remnant family: title, byline, credit, caption, ...
    primary key (article_id, start_char)
);

create table if not exists paragraphs (
    paragraph_id varchar primary key,        -- <article_id>-<position>
    article_id   varchar not null,
    position     integer not null,           -- 0-based order in the body
    text         varchar not null,
    section_heading varchar,                 -- the heading above this paragraph, if any
    text_sha256  varchar not null,
    n_words      integer not null,
    embedding    float[{embedding_dim}],
    model        varchar not null
);

-- Embeddings by paragraph text, kept across runs so that re-runs and duplicate text cost nothing.
create table if not exists embedding_cache (
    text_sha256 varchar not null,
    model       varchar not null,
    embedding   float[{embedding_dim}] not null,
    primary key (text_sha256, model)
);

create table if not exists entities (
    entity_id      varchar primary key,
    canonical_name varchar not null,
    label          varchar not null,         -- PERSON, ORG, GPE, LOC, NORP, ...
    aliases        varchar[]
);

create table if not exists entity_mentions (
    entity_id    varchar not null,
    article_id   varchar not null,
    paragraph_id varchar not null,
    start_char   integer not null,           -- offsets into paragraphs.text
    end_char     integer not null,
    surface      varchar not null,
    label        varchar not null,           -- spaCy's label for this mention
    primary key (paragraph_id, start_char)
);

create table if not exists paragraph_similarity (
    paragraph_id_a varchar not null,         -- paragraph_id_a < paragraph_id_b: each pair once
    paragraph_id_b varchar not null,
    article_id_a   varchar not null,
    article_id_b   varchar not null,
    cosine         float not null,
    primary key (paragraph_id_a, paragraph_id_b)
);

create table if not exists warehouse_meta (
    key   varchar primary key,
    value varchar not null
);

-- Upgrades of warehouses created by earlier versions (idempotent).
alter table paragraphs add column if not exists section_heading varchar;
alter table articles add column if not exists language varchar;
alter table articles add column if not exists updated date;
