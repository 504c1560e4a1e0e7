-- newsdag warehouse schema. Applied at the start of every run; every statement is idempotent.
-- {embedding_dim} is filled in from the settings (384 for the default all-MiniLM-L6-v2).
-- One schema for both backends. The keys below say what identifies a row; the single file keeps them only
-- on storage/schema.KEYED_TABLES (articles, paragraphs and small bookkeeping): DuckDB holds a key's index
-- whole in memory while a transaction writes its table, which the tables that grow by many rows an
-- article would outgrow under the default memory cap. A DuckLake (NEWSDAG_WAREHOUSE=ducklake:...) has no
-- keys at all, nor fixed-size arrays (storage/schema.py, lake_schema: vectors are float[] there, read back
-- as arrays of warehouse_meta's embedding_dim). Without keys, loads delete by key before they insert, and
-- sql/checks/unique_ids.sql checks the ids of articles, paragraphs and entities.
-- Status values are checked by sql/checks/accepted_values.sql.

create table if not exists runs (
    run_id        varchar primary key,
    started_at    timestamp not null,
    finished_at   timestamp,
    status        varchar not null,          -- running, completed, failed, interrupted, crashed
    raw_dir       varchar,
    summary       json
);

create table if not exists ingest_files (
    source_path    varchar primary key,      -- relative to the raw folder
    content_sha256 varchar,                  -- null when the file could not be read
    size_bytes     bigint,
    status         varchar not null,         -- loaded, unchanged, duplicate, failed, empty, deleted
    change         varchar,                  -- new, changed, unchanged (relative to the previous run)
    duplicate_of   varchar,                  -- source_path of the first byte-identical file
    encoding       varchar,                  -- how the bytes were decoded (utf-8, utf-8-sig, cp1252, latin-1)
    error          varchar,                  -- why a failed file failed
    article_id     varchar,
    first_seen_at  timestamp not null,
    last_seen_at   timestamp not null,
    run_id         varchar not null,
    -- st_mtime_ns when content_sha256 was taken, recorded only when it was then over 2 s old: a later run
    -- finding the same size and mtime reuses the hash instead of reading the file (tasks/ingest.py).
    mtime_ns       bigint
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

-- spaCy's mentions as found, before resolution (`word_before`: the word in front, evidence for the label).
-- Entities and entity_mentions are resolved from all of these at once at the end of each run, so that they
-- do not depend on the order articles arrived in (flows/derived.py: settle_entities).
create table if not exists raw_mentions (
    article_id   varchar not null,
    paragraph_id varchar not null,
    start_char   integer not null,
    end_char     integer not null,
    surface      varchar not null,
    label        varchar not null,
    word_before  varchar not null,
    primary key (paragraph_id, start_char, end_char)
);

-- Entity partitions (tasks/entities.py: form_keys): mentions that share no key cannot change each other's
-- resolution, so settle_entities re-resolves only the partitions a run's mentions touch. Per article: the
-- forms of its raw mentions and their digest when recorded, and its first-name edges; per form: its keys
-- and the full names it may give a person (with their transliteration bucket). All follow from raw_mentions.
create table if not exists entity_article_forms (
    article_id    varchar not null,
    mentions      bigint not null,           -- the article's raw mentions when recorded: their count
    digest        ubigint not null,          -- and their digest (sql/internal/entity_changed_articles.sql)
    surface       varchar not null,
    label         varchar not null,
    person_before boolean not null           -- the word before is a person's title
);

create table if not exists entity_form_keys (
    surface       varchar not null,
    label         varchar not null,
    person_before boolean not null,
    key           varchar not null
);

create table if not exists entity_form_names (
    surface       varchar not null,
    label         varchar not null,
    person_before boolean not null,
    name          varchar not null,
    bucket        varchar not null
);

create table if not exists entity_article_edges (
    article_id    varchar not null,
    key_a         varchar not null,
    key_b         varchar not null
);

-- Each entity's row as the last settling left it (a digest): a row that differs now was changed by a
-- batch's provisional resolution, and its names' partitions are settled again.
create table if not exists entity_settled_rows (
    entity_id     varchar not null,
    digest        ubigint not null
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

-- Quotations, direct and reported (kind), with who said them (tasks/quotes/__init__.py).
create table if not exists quotes (
    quote_id           varchar primary key,  -- <paragraph_id>-q<start_char>
    article_id         varchar not null,
    paragraph_id       varchar not null,
    start_char         integer not null,
    end_char           integer not null,
    text               varchar not null,
    is_partial         boolean not null,     -- quoted words that start inside the writer's sentence
    kind               varchar,              -- direct, indirect, mixed (reported speech with quoted words), fragment
    speaker_entity_id  varchar,              -- null: unnamed source ("a senior U.S. official") or not found
    speaker_surface    varchar,              -- the words naming the speaker: "Kerry", "he", "the official"
    verb               varchar,              -- said, told, added, warned, ...
    attribution        varchar not null,     -- after, before, pronoun, continuation, none
    continues_quote_id varchar,              -- the quote this one goes on from (split quotes)
    embedding          float[{embedding_dim}]
);

-- Verbs of saying with their subject and content, and sentences' named subjects, from spaCy's parse of
-- each paragraph (tasks/quotes/speech.py): what finding quotes again needs, without parsing again.
create table if not exists speech_clauses (
    article_id     varchar not null,
    paragraph_id   varchar not null,
    verb           varchar,                  -- base form ("say", "according to"); null: a named subject
    verb_start     integer not null,         -- offsets into paragraphs.text
    verb_end       integer not null,
    subject_start  integer,
    subject_end    integer,
    head_start     integer,                  -- the subject's head word
    head_end       integer,
    content_start  integer,                  -- the statement
    content_end    integer
);

-- Quotes of one statement in different articles (same words or a close paraphrase).
create table if not exists quote_links (
    quote_id_a      varchar not null,        -- quote_id_a < quote_id_b: each pair once
    quote_id_b      varchar not null,
    article_id_a    varchar not null,
    article_id_b    varchar not null,
    cosine          float not null,
    word_similarity float not null,          -- rapidfuzz token-set ratio / 100
    same_speaker    boolean not null,
    primary key (quote_id_a, quote_id_b)
);

-- Article pairs with linked paragraphs (derived from paragraph_similarity, rebuilt every run).
create table if not exists article_similarity (
    article_id_a        varchar not null,    -- article_id_a < article_id_b: each pair once
    article_id_b        varchar not null,
    linked_paragraphs_a integer not null,    -- paragraphs of a linked to b
    linked_paragraphs_b integer not null,
    share_a             float not null,      -- linked_paragraphs_a / a's paragraphs
    share_b             float not null,
    copied_share_a      float not null,      -- share of a's paragraphs linked to b as copied text
    copied_share_b      float not null,
    mean_cosine         float not null,
    relation            varchar not null,    -- duplicate (syndicated copy), near_duplicate (edited copy / update), related
    original_article_id varchar,             -- the likely original of a duplicate pair (earliest published, else first seen)
    original_basis      varchar,             -- published, first_seen
    primary key (article_id_a, article_id_b)
);

-- Topics: running subjects that many articles cover over weeks (a league's season, a public figure, a
-- product line, a crisis). Recomputed every run from all articles (tasks/topics.py); ids carry over.
create table if not exists topics (
    topic_id                  varchar primary key, -- topic-<article_id of the earliest article when founded>
    label                     varchar not null,    -- top entities — most distinctive terms (class-based TF-IDF)
    terms                     varchar[],
    top_entities              varchar[],
    representative_article_id varchar,             -- the article nearest the topic's centre
    headline                  varchar,             -- the representative article's title
    n_articles                integer not null,
    n_outlets                 integer not null,
    n_stories                 integer not null,
    first_seen                date,                -- earliest published (else first ingested) date
    last_seen                 date
);

-- Stories: one event or development inside a topic (a summit and its outcome), from one or several outlets.
create table if not exists stories (
    story_id      varchar primary key,       -- story-<article_id of its earliest article when founded>
    label         varchar not null,          -- top entities — most distinctive terms
    headline      varchar,                   -- title of its representative article
    n_articles    integer not null,
    n_outlets     integer not null,
    first_seen    date,                      -- earliest published (else first ingested) date
    last_seen     date,
    topic_id      varchar,                   -- each story in exactly one topic
    terms         varchar[],
    top_entities  varchar[],
    representative_article_id varchar
);

create table if not exists story_articles (
    story_id    varchar not null,
    article_id  varchar primary key,         -- each article in one story
    is_original boolean not null             -- the story's earliest article (published, then id)
);

-- Ids that stopped being used because new articles bridged two topics or stories: `absorbed_id` now
-- reads as `survivor_id` (view cluster_id_map follows chains of merges).
create table if not exists cluster_merges (
    level       varchar not null,            -- topic, story
    absorbed_id varchar not null,
    survivor_id varchar not null,
    merged_at   timestamp not null,
    run_id      varchar not null,
    primary key (level, absorbed_id)
);

-- Each article's vector (normalised mean of its paragraph vectors), kept while its content is unchanged.
create table if not exists article_vectors (
    article_id     varchar primary key,
    content_sha256 varchar not null,
    embedding      float[{embedding_dim}] not null
);

-- Each article's grouping period and digests of what its topic, story and similarity rows were computed
-- from, as of the last grouping (sql/internal/grouping_signatures.sql): a run regroups only the periods
-- whose articles' digests changed.
create table if not exists article_signatures (
    article_id           varchar primary key,
    period               date not null,
    grouping_signature   ubigint not null,  -- text, metadata, entities: its period is regrouped when it changes
    similarity_signature ubigint not null   -- metadata, links, shared texts: its similarity rows are recomputed
);

-- Upgrades of warehouses created by earlier versions (idempotent).
alter table paragraphs add column if not exists section_heading varchar;
alter table articles add column if not exists language varchar;
alter table articles add column if not exists updated date;
alter table entities add column if not exists mention_count integer default 0;
alter table paragraph_similarity add column if not exists lexical_overlap float;
alter table paragraph_similarity add column if not exists kind varchar;
alter table ingest_files add column if not exists mtime_ns bigint;
-- Quotes stored before reported speech were direct quotes (found again by flows/derived.refresh_quotes).
alter table quotes add column if not exists kind varchar default 'direct';

-- Each paragraph's nearest paragraphs in other articles (its top-k by cosine, at or above the threshold,
-- ties by paragraph_id). paragraph_similarity holds the union of these lists, each pair once, so a link
-- depends only on the stored paragraphs, never on the order they arrived in (tasks/similarity.py: relink).
create table if not exists paragraph_neighbours (
    paragraph_id         varchar not null,
    neighbour_id         varchar not null,
    article_id           varchar not null,
    neighbour_article_id varchar not null,
    cosine               float not null,
    primary key (paragraph_id, neighbour_id)
);

-- Paragraphs whose neighbour lists must be recomputed (new ones, `added`, whose arrival may also change
-- other paragraphs' lists; and those whose neighbours were removed). Filled in the transaction that
-- changes the paragraphs, emptied by the relink that follows (a crash in between leaves it for the next run).
create table if not exists relink_queue (
    paragraph_id varchar primary key,
    added        boolean not null
);
alter table stories add column if not exists topic_id varchar;
alter table stories add column if not exists terms varchar[];
alter table stories add column if not exists top_entities varchar[];
alter table stories add column if not exists representative_article_id varchar;
-- A paragraph's kind: 'text', or 'table'/'list' for a block of short rows the cleaner kept together.
alter table paragraphs add column if not exists kind varchar;
-- A paragraph's key in the HNSW index file beside a single-file warehouse (tasks/similarity.paragraph_key):
-- what the index's hits are resolved by.
alter table paragraphs add column if not exists index_key ubigint;

-- Paragraphs inserted (`added`) or deleted since the HNSW index file was last brought in step with the
-- stored ones: written in the transaction that changes them, applied and emptied by the relink in it
-- (storage/paragraph_index.py). Single file only.
create table if not exists paragraph_index_journal (
    paragraph_id varchar not null,
    text_sha256  varchar not null,
    added        boolean not null
);
