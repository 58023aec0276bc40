-- The product's own tables in a client database (docs/client-database.md#the-products-own-state).
-- Created by `dashctl provision-client` (and `register-tenant`), checked by
-- `dashctl verify-client`. Nothing else in a client database is ever created
-- by the product, apart from one downtime_events_<code> table per line
-- (line_tables.sql). Both tables hold one row per (line, entry), written with
-- INSERT … ON DUPLICATE KEY UPDATE.

-- State the product must keep: per line, the downtime engine's watermark
-- (entry 'downtime_watermark', written in the transaction that stores the stops
-- it covers) and the outcome of the last runs ('downtime_last_run',
-- 'rollup_last_run'). The history of job runs is the global job_run table.
CREATE TABLE IF NOT EXISTS dash_line_state (
    line_id     INT          NOT NULL,
    entry       VARCHAR(64)  NOT NULL,
    value_json  JSON         NOT NULL,
    updated_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (line_id, entry),
    CONSTRAINT chk_dash_line_state_value_json CHECK (JSON_VALID(value_json))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A cache: the minute pre-aggregation of a line's detections (entries
-- 'rollup_min:YYYY-MM-DD:<area_id>', one day document each, and
-- 'rollup_min_watermark', the highest detection_id folded in). It may be
-- dropped or emptied at any time: counts are then read from the raw detections
-- (with a logged warning) until the next `jobs downtime` rebuilds it. No
-- JSON_VALID check: the reader checks every document itself (a corrupt one
-- means raw counts), and validating each day document on write is wasted work.
CREATE TABLE IF NOT EXISTS dash_rollup (
    line_id     INT          NOT NULL,
    entry       VARCHAR(64)  NOT NULL,
    value_json  LONGTEXT     NOT NULL,
    updated_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (line_id, entry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
