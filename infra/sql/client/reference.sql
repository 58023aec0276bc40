-- Dashboard SaaS Industrial — reference client database (docs/client-database.md#client-database-contract).
--
-- A client's own plant systems normally own these tables; the application only
-- reads them. This file is the reference used by the demo, the tests and by
-- clients who start from scratch (`dashctl provision-client --reference`).
-- The per-line tables (detection_line_<code>, downtime_events_<code>) come from
-- line_tables.sql, one pair per production line.
--
-- Times are plant data: DATETIME values in the tenant's data_timezone (UTC by
-- default); TIME values (shifts) are plant-local wall-clock times.
-- MariaDB 10.6+ and MySQL 8.0.16+. Every statement is re-runnable.

CREATE TABLE IF NOT EXISTS production_line (
    line_id                     INT          NOT NULL AUTO_INCREMENT,
    line_name                   VARCHAR(100) NOT NULL,
    line_code                   VARCHAR(40)  NULL,
    is_active                   TINYINT(1)   NOT NULL DEFAULT 1,
    downtime_threshold_seconds  INT UNSIGNED NULL,
    micro_stop_seconds          INT UNSIGNED NULL,
    PRIMARY KEY (line_id),
    UNIQUE KEY uq_production_line_code (line_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS area (
    area_id    INT          NOT NULL AUTO_INCREMENT,
    line_id    INT          NOT NULL,
    area_name  VARCHAR(100) NOT NULL,
    area_type  ENUM('input','process','output','reject') NOT NULL,
    PRIMARY KEY (area_id),
    KEY ix_area_line (line_id, area_type),
    CONSTRAINT fk_area_line FOREIGN KEY (line_id) REFERENCES production_line (line_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS product (
    product_id                INT           NOT NULL AUTO_INCREMENT,
    product_name              VARCHAR(150)  NOT NULL,
    product_code              VARCHAR(50)   NOT NULL,
    ideal_cycle_time_seconds  DECIMAL(10,3) NULL,
    PRIMARY KEY (product_id),
    UNIQUE KEY uq_product_code (product_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- end_time <= start_time: the shift ends the next day. days_of_week: ISO weekdays
-- (1 = Monday … 7 = Sunday) of the shift's start, comma separated; NULL = every day.
CREATE TABLE IF NOT EXISTS shift (
    shift_id      INT          NOT NULL AUTO_INCREMENT,
    shift_name    VARCHAR(50)  NOT NULL,
    start_time    TIME         NOT NULL,
    end_time      TIME         NOT NULL,
    days_of_week  VARCHAR(20)  NULL,
    is_active     TINYINT(1)   NOT NULL DEFAULT 1,
    PRIMARY KEY (shift_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS shift_break (
    break_id    INT          NOT NULL AUTO_INCREMENT,
    shift_id    INT          NOT NULL,
    break_name  VARCHAR(50)  NOT NULL,
    start_time  TIME         NOT NULL,
    end_time    TIME         NOT NULL,
    PRIMARY KEY (break_id),
    KEY ix_shift_break_shift (shift_id),
    CONSTRAINT fk_shift_break_shift FOREIGN KEY (shift_id) REFERENCES shift (shift_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- additional_filter.type: daterange | select | multiselect | shift | toggle;
-- additional_filter.source: lines | areas | products | shifts.
CREATE TABLE IF NOT EXISTS filter (
    filter_id          INT          NOT NULL AUTO_INCREMENT,
    filter_name        VARCHAR(100) NOT NULL,
    filter_status      TINYINT(1)   NOT NULL DEFAULT 1,
    default_value      JSON         NULL,
    additional_filter  JSON         NULL,
    display_order      INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (filter_id),
    CONSTRAINT chk_filter_default_json CHECK (default_value IS NULL OR JSON_VALID(default_value)),
    CONSTRAINT chk_filter_additional_json CHECK (additional_filter IS NULL OR JSON_VALID(additional_filter))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS system_config (
    config_key    VARCHAR(100)  NOT NULL,
    config_value  VARCHAR(1000) NULL,
    description   VARCHAR(255)  NULL,
    PRIMARY KEY (config_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The client's own telemetry table (SPEC §4.2: its columns are the client's).
-- The product never reads or writes it; this shape is only an example, the one
-- the tests use to show that a foreign system_monitor changes nothing.
CREATE TABLE IF NOT EXISTS system_monitor (
    monitor_id   BIGINT        NOT NULL AUTO_INCREMENT,
    recorded_at  DATETIME(3)   NOT NULL,
    metric       VARCHAR(100)  NOT NULL,
    value        DECIMAL(18,4) NULL,
    details      VARCHAR(1000) NULL,
    PRIMARY KEY (monitor_id),
    KEY ix_system_monitor_recorded (recorded_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS failure (
    failure_id        INT          NOT NULL AUTO_INCREMENT,
    failure_code      VARCHAR(32)  NOT NULL,
    failure_name      VARCHAR(100) NOT NULL,
    failure_category  ENUM('planned','unplanned') NOT NULL DEFAULT 'unplanned',
    is_active         TINYINT(1)   NOT NULL DEFAULT 1,
    PRIMARY KEY (failure_id),
    UNIQUE KEY uq_failure_code (failure_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS incident (
    incident_id  BIGINT        NOT NULL AUTO_INCREMENT,
    failure_id   INT           NULL,
    line_id      INT           NOT NULL,
    start_time   DATETIME(3)   NOT NULL,
    end_time     DATETIME(3)   NULL,
    description  VARCHAR(1000) NULL,
    reported_by  VARCHAR(100)  NULL,
    created_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (incident_id),
    KEY ix_incident_line_time (line_id, start_time),
    KEY ix_incident_failure (failure_id),
    CONSTRAINT fk_incident_failure FOREIGN KEY (failure_id) REFERENCES failure (failure_id),
    CONSTRAINT fk_incident_line FOREIGN KEY (line_id) REFERENCES production_line (line_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
