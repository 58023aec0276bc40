-- Per-line tables of a client database (docs/client-database.md#client-database-contract), one pair per production line.
--
-- A template: {{code}} is the line code (validated against [a-z0-9_]{1,40} before
-- it is substituted) and {{partitions}} the monthly partition list, e.g.
--   PARTITION p202604 VALUES LESS THAN ('2026-05-01'),
--   PARTITION p202605 VALUES LESS THAN ('2026-06-01'),
--   PARTITION pmax VALUES LESS THAN (MAXVALUE)
-- Partition pYYYYMM holds the detections of that month; `dashctl partitions`
-- (and `jobs partitions`) split pmax to add the next months, never dropping rows.

-- Client-owned (the plant's sensors write it). Created only for the reference /
-- demo schema, never on a client's own database.
CREATE TABLE IF NOT EXISTS detection_line_{{code}} (
    detection_id  BIGINT       NOT NULL AUTO_INCREMENT,
    detected_at   DATETIME(3)  NOT NULL,
    area_id       INT          NOT NULL,
    product_id    INT          NULL,
    PRIMARY KEY (detection_id, detected_at),
    KEY ix_area_detected (area_id, detected_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
PARTITION BY RANGE COLUMNS (detected_at) (
{{partitions}}
);

-- App-owned (the downtime engine writes it, docs/downtime.md#downtime). start_time/end_time are in
-- the data_timezone like the detections; detection_id is the detection that
-- ended the stop; failure_id is the reason (failure table), justified_by a
-- global user_id.
CREATE TABLE IF NOT EXISTS downtime_events_{{code}} (
    downtime_id       BIGINT         NOT NULL AUTO_INCREMENT,
    start_time        DATETIME(3)    NOT NULL,
    end_time          DATETIME(3)    NOT NULL,
    duration_seconds  DECIMAL(12,3)  NOT NULL,
    detection_id      BIGINT         NOT NULL,
    is_micro          TINYINT(1)     NOT NULL DEFAULT 0,
    failure_id        INT            NULL,
    justification     VARCHAR(1000)  NULL,
    justified_by      BIGINT         NULL,
    justified_at      DATETIME(3)    NULL,
    created_at        DATETIME(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at        DATETIME(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (downtime_id),
    UNIQUE KEY uq_downtime_start (start_time),
    KEY ix_downtime_end (end_time),
    KEY ix_downtime_micro_start (is_micro, start_time),
    KEY ix_downtime_failure (failure_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
