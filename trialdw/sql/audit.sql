-- Audit schema: what sites sent, what happened to it, and why.
-- Created once per warehouse file (idempotent). Column names are upper case
-- like the rest of the warehouse; see ../shared/spec/analysis-tables.md.
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS audit.runs (
    RUN_ID        VARCHAR PRIMARY KEY,
    STARTED_AT    TIMESTAMP,
    ENDED_AT      TIMESTAMP,
    STATUS        VARCHAR,          -- completed / failed / refused / interrupted
    MESSAGE       VARCHAR,
    CODE_VERSION  VARCHAR,
    DETAILS       JSON              -- per-step timings, row counts, contract versions
);

-- One row per transfer folder ever seen.
CREATE TABLE IF NOT EXISTS audit.transfers (
    STUDYID          VARCHAR,
    SITEID           VARCHAR,
    TRANSFER_ID      VARCHAR,
    STATUS           VARCHAR,       -- accepted / rejected / incomplete / superseded
    REASON           VARCHAR,
    RECEIVED_AT      TIMESTAMP,     -- when the warehouse first processed it
    EXPORTED_AT      VARCHAR,       -- manifest exported_at, as sent
    CURRENT          VARCHAR,       -- 'Y' for the site's newest accepted transfer
    MANIFEST_SHA256  VARCHAR,
    TRANSFER_PATH    VARCHAR,
    RUN_ID           VARCHAR,
    PRIMARY KEY (STUDYID, SITEID, TRANSFER_ID)
);

-- One row per file of a transfer (listed in the manifest or found in the folder).
CREATE TABLE IF NOT EXISTS audit.files (
    STUDYID        VARCHAR,
    SITEID         VARCHAR,
    TRANSFER_ID    VARCHAR,
    FILE_NAME      VARCHAR,
    DOMAIN         VARCHAR,
    SHA256         VARCHAR,
    MANIFEST_ROWS  BIGINT,
    STATUS         VARCHAR,         -- ok / rejected / unlisted / missing
    REASON         VARCHAR
);

-- Loaded + quarantined = sent, per accepted transfer x domain.
CREATE TABLE IF NOT EXISTS audit.reconciliation (
    STUDYID           VARCHAR,
    SITEID            VARCHAR,
    TRANSFER_ID       VARCHAR,
    DOMAIN            VARCHAR,
    ROWS_SENT         BIGINT,
    ROWS_LOADED       BIGINT,
    ROWS_QUARANTINED  BIGINT,
    PRIMARY KEY (STUDYID, SITEID, TRANSFER_ID, DOMAIN)
);

-- One row per problem, with its life cycle across cumulative transfers.
CREATE TABLE IF NOT EXISTS audit.findings (
    FINDING_ID           VARCHAR PRIMARY KEY,
    STUDYID              VARCHAR,
    SITEID               VARCHAR,
    DOMAIN               VARCHAR,
    USUBJID              VARCHAR,
    RECORD_KEY           VARCHAR,   -- the record key values, '|'-joined
    SOURCE_FILE          VARCHAR,
    SOURCE_LINE          BIGINT,    -- NULL for transfer-level findings
    COLUMN_NAME          VARCHAR,
    VALUE                VARCHAR,
    RULE                 VARCHAR,
    SEVERITY             VARCHAR,   -- reject / warning
    MESSAGE              VARCHAR,
    CATEGORY             VARCHAR,   -- transfer / row / review
    STATUS               VARCHAR,   -- open / resolved
    FIRST_SEEN_TRANSFER  VARCHAR,
    LAST_SEEN_TRANSFER   VARCHAR,
    RESOLVED_TRANSFER    VARCHAR,
    VISIT                VARCHAR,   -- as sent, row findings of domains with a VISIT (last: inserts are positional)
    VISITNUM             VARCHAR
);
-- A warehouse created before VISIT/VISITNUM gets them (a no-op otherwise).
ALTER TABLE audit.findings ADD COLUMN IF NOT EXISTS VISIT VARCHAR;
ALTER TABLE audit.findings ADD COLUMN IF NOT EXISTS VISITNUM VARCHAR;

-- Every occurrence of a finding in a transfer (the history behind FIRST/LAST_SEEN).
CREATE TABLE IF NOT EXISTS audit.finding_occurrences (
    FINDING_ID   VARCHAR,
    TRANSFER_ID  VARCHAR,
    SOURCE_FILE  VARCHAR,
    SOURCE_LINE  BIGINT,
    VALUE        VARCHAR
);

-- Quarantined rows, kept as sent (every column as text) with their reasons.
CREATE TABLE IF NOT EXISTS audit.quarantine (
    STUDYID      VARCHAR,
    SITEID       VARCHAR,
    TRANSFER_ID  VARCHAR,
    DOMAIN       VARCHAR,
    SOURCE_FILE  VARCHAR,
    SOURCE_LINE  BIGINT,
    USUBJID      VARCHAR,
    RULES        VARCHAR,           -- comma-separated rule names
    RECORD       JSON               -- the row as sent: {"COLUMN": "text", ...}
);

-- What each pull from the sites' drop zones did (trialdw pull / the nightly flow's
-- first task): one row per transfer looked at, or per source that failed.
CREATE TABLE IF NOT EXISTS audit.pulls (
    RUN_ID       VARCHAR,
    STUDYID      VARCHAR,
    SITEID       VARCHAR,
    TRANSFER_ID  VARCHAR,
    SOURCE       VARCHAR,           -- the source URL, without credentials
    OUTCOME      VARCHAR,           -- landed / skipped / incomplete / refused / failed
    RULE         VARCHAR,           -- why refused or failed (changed_after_landing, symlink, ...)
    REASON       VARCHAR,
    FILES        BIGINT,            -- files copied (landed, or kept aside when refused)
    BYTES        BIGINT,
    PULLED_AT    TIMESTAMP          -- UTC
);
