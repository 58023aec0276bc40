-- Dashboard SaaS Industrial — global database, version 1 (SPEC §4.1).
--
-- Applied by `dashctl migrate` (embedded in the binary; the runner records each
-- file in `schema_migrations` with its SHA-256 and refuses a changed file).
-- Also runnable by hand: `mariadb dashboard_global < 0001_init.sql`.
-- Every statement is re-runnable (IF NOT EXISTS / DROP TRIGGER IF EXISTS), so a
-- migration interrupted half-way can simply be applied again.
--
-- MariaDB 10.6+ and MySQL 8.0.16+. All times are UTC (DATETIME(3)); the
-- application writes them with UTC_TIMESTAMP(3) or binds UTC values.

CREATE TABLE IF NOT EXISTS tenant (
    tenant_id        BIGINT       NOT NULL AUTO_INCREMENT,
    company_name     VARCHAR(150) NOT NULL,
    asociated_since  DATE         NOT NULL,
    is_active        TINYINT(1)   NOT NULL DEFAULT 1,
    config_tenant    JSON         NOT NULL,
    created_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (tenant_id),
    UNIQUE KEY uq_tenant_company_name (company_name),
    CONSTRAINT chk_tenant_config_json CHECK (JSON_VALID(config_tenant))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `user` (
    user_id          BIGINT       NOT NULL AUTO_INCREMENT,
    tenant_id        BIGINT       NULL,
    username         VARCHAR(100) NOT NULL,
    email            VARCHAR(255) NULL,
    password         VARCHAR(255) NOT NULL,
    role             ENUM('superadmin','admin','manager','operator','viewer') NOT NULL DEFAULT 'viewer',
    permissions      JSON         NULL,
    is_active        TINYINT(1)   NOT NULL DEFAULT 1,
    failed_logins    INT UNSIGNED NOT NULL DEFAULT 0,
    locked_until     DATETIME(3)  NULL,
    last_login_at    DATETIME(3)  NULL,
    created_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    deleted_at       DATETIME(3)  NULL,
    PRIMARY KEY (user_id),
    UNIQUE KEY uq_user_username (username),
    KEY ix_user_tenant (tenant_id, is_active),
    CONSTRAINT fk_user_tenant FOREIGN KEY (tenant_id) REFERENCES tenant (tenant_id),
    -- Only the SaaS operator (superadmin) may have no tenant.
    CONSTRAINT chk_user_tenant_role CHECK (role = 'superadmin' OR tenant_id IS NOT NULL),
    CONSTRAINT chk_user_permissions_json CHECK (permissions IS NULL OR JSON_VALID(permissions))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per session (and one per failed login attempt, success = 0). A refresh
-- rotation may update the row or insert a new one in the same family_id; the
-- family index makes "revoke the whole family" one statement.
CREATE TABLE IF NOT EXISTS user_login (
    session_id          BIGINT       NOT NULL AUTO_INCREMENT,
    user_id             BIGINT       NULL,
    tenant_id           BIGINT       NULL,
    login_at            DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    ip                  VARCHAR(45)  NULL,
    user_agent          VARCHAR(255) NULL,
    success             TINYINT(1)   NOT NULL,
    failure_reason      VARCHAR(64)  NULL,
    refresh_token_hash  CHAR(64)     NULL,
    family_id           CHAR(32)     NULL,
    csrf_token_hash     CHAR(64)     NULL,
    last_activity_at    DATETIME(3)  NULL,
    expires_at          DATETIME(3)  NULL,
    revoked_at          DATETIME(3)  NULL,
    revoked_reason      VARCHAR(64)  NULL,
    PRIMARY KEY (session_id),
    UNIQUE KEY uq_user_login_refresh (refresh_token_hash),
    -- live sessions of a user: WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND expires_at > now
    KEY ix_user_login_live (user_id, revoked_at, expires_at),
    KEY ix_user_login_family (family_id, revoked_at),
    KEY ix_user_login_expires (expires_at),
    KEY ix_user_login_time (login_at),
    CONSTRAINT fk_user_login_user FOREIGN KEY (user_id) REFERENCES `user` (user_id),
    CONSTRAINT fk_user_login_tenant FOREIGN KEY (tenant_id) REFERENCES tenant (tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only: the triggers below refuse UPDATE and DELETE. No foreign keys, so
-- nothing can ever need to change or remove an audit row.
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id    BIGINT       NOT NULL AUTO_INCREMENT,
    user_id     BIGINT       NULL,
    tenant_id   BIGINT       NULL,
    action      VARCHAR(64)  NOT NULL,
    entity      VARCHAR(64)  NULL,
    entity_id   VARCHAR(64)  NULL,
    details     JSON         NULL,
    ip          VARCHAR(45)  NULL,
    created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (audit_id),
    KEY ix_audit_tenant_time (tenant_id, created_at),
    KEY ix_audit_user_time (user_id, created_at),
    KEY ix_audit_entity (entity, entity_id),
    CONSTRAINT chk_audit_details_json CHECK (details IS NULL OR JSON_VALID(details))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DROP TRIGGER IF EXISTS trg_audit_log_no_update;
CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only: UPDATE is not allowed';

DROP TRIGGER IF EXISTS trg_audit_log_no_delete;
CREATE TRIGGER trg_audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only: DELETE is not allowed';

CREATE TABLE IF NOT EXISTS user_query (
    query_id     BIGINT        NOT NULL AUTO_INCREMENT,
    user_id      BIGINT        NULL,
    tenant_id    BIGINT        NULL,
    endpoint     VARCHAR(191)  NOT NULL,
    parameters   JSON          NULL,
    duration_ms  INT UNSIGNED  NOT NULL DEFAULT 0,
    row_count    INT UNSIGNED  NOT NULL DEFAULT 0,
    created_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (query_id),
    KEY ix_user_query_tenant_time (tenant_id, created_at),
    KEY ix_user_query_user_time (user_id, created_at),
    KEY ix_user_query_time (created_at),
    CONSTRAINT chk_user_query_parameters_json CHECK (parameters IS NULL OR JSON_VALID(parameters))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- SPEC §8: seeded by `dashctl seed-widget-catalog`. required_params is the JSON
-- Schema the params of a widget of this type must satisfy.
CREATE TABLE IF NOT EXISTS widget_catalog (
    widget_id        INT          NOT NULL AUTO_INCREMENT,
    widget_type      VARCHAR(64)  NOT NULL,
    widget_name      VARCHAR(100) NOT NULL,
    description      VARCHAR(500) NOT NULL DEFAULT '',
    required_params  JSON         NOT NULL,
    default_params   JSON         NOT NULL,
    is_active        TINYINT(1)   NOT NULL DEFAULT 1,
    created_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at       DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (widget_id),
    UNIQUE KEY uq_widget_catalog_type (widget_type),
    CONSTRAINT chk_widget_required_params_json CHECK (JSON_VALID(required_params)),
    CONSTRAINT chk_widget_default_params_json CHECK (JSON_VALID(default_params))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Layout per (tenant, role); tenant_id NULL is the default for every tenant.
-- NULLs never collide in a UNIQUE key, so uniqueness goes through tenant_key.
CREATE TABLE IF NOT EXISTS dashboard_template (
    template_id    BIGINT       NOT NULL AUTO_INCREMENT,
    tenant_id      BIGINT       NULL,
    role           ENUM('superadmin','admin','manager','operator','viewer') NOT NULL,
    layout_config  JSON         NOT NULL,
    updated_by     BIGINT       NULL,
    updated_at     DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    tenant_key     BIGINT       AS (IFNULL(tenant_id, 0)) STORED,
    PRIMARY KEY (template_id),
    UNIQUE KEY uq_dashboard_template_tenant_role (tenant_key, role),
    KEY ix_dashboard_template_tenant (tenant_id),
    CONSTRAINT fk_dashboard_template_tenant FOREIGN KEY (tenant_id) REFERENCES tenant (tenant_id),
    CONSTRAINT fk_dashboard_template_user FOREIGN KEY (updated_by) REFERENCES `user` (user_id),
    CONSTRAINT chk_dashboard_template_layout_json CHECK (JSON_VALID(layout_config))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Fixed-window counters shared by every process (SPEC §10). bucket is e.g.
-- 'user:42' or 'auth-ip:203.0.113.7'; window_start is the UTC minute.
CREATE TABLE IF NOT EXISTS rate_limit (
    bucket        VARCHAR(191)  NOT NULL,
    window_start  DATETIME      NOT NULL,
    hits          INT UNSIGNED  NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, window_start),
    KEY ix_rate_limit_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per scheduled-job run (downtime, partitions, housekeeping). Mutual
-- exclusion uses GET_LOCK advisory locks, not this table.
CREATE TABLE IF NOT EXISTS job_run (
    run_id          BIGINT          NOT NULL AUTO_INCREMENT,
    job             VARCHAR(64)     NOT NULL,
    tenant_id       BIGINT          NULL,
    line_id         BIGINT          NULL,
    started_at      DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    finished_at     DATETIME(3)     NULL,
    status          VARCHAR(16)     NOT NULL DEFAULT 'running',
    rows_processed  BIGINT UNSIGNED NOT NULL DEFAULT 0,
    detail          TEXT            NULL,
    PRIMARY KEY (run_id),
    KEY ix_job_run_lookup (job, tenant_id, line_id, started_at),
    KEY ix_job_run_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
