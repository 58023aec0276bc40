-- Per-user request counters (SPEC §10: 100 requests a minute per user, shared by every
-- process): one row per user with the count of its current calendar minute.
--
-- ENGINE=MEMORY because every authenticated request counts itself here: on InnoDB each count
-- was a durable commit (a redo-log flush), which halved what a warm FastCGI process serves.
-- A counter is worth nothing after its minute, so losing the table when the server restarts
-- only forgives the current minute. One row per user (not per minute) keeps the table small
-- whatever the traffic: a MEMORY table has a fixed maximum size (max_heap_table_size).
-- The per-IP counters of the auth routes stay in `rate_limit` (InnoDB): they guard against
-- password guessing, and a login costs an argon2 hash anyway.
CREATE TABLE IF NOT EXISTS user_request_rate (
    user_id       BIGINT        NOT NULL,
    window_start  DATETIME      NOT NULL,
    hits          INT UNSIGNED  NOT NULL,
    PRIMARY KEY (user_id)
) ENGINE=MEMORY;
