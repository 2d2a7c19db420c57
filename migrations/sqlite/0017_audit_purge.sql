-- Audit log retention: purge runs (Harbor's /system/purgeaudit), and the index a purge by age
-- needs. The schedule lives in `schedules` as 'purgeaudit'.
CREATE TABLE purge_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_kind   TEXT NOT NULL,
    parameters     TEXT NOT NULL,
    status         TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    deleted        INTEGER NOT NULL DEFAULT 0,
    log            TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX audit_logs_time ON audit_logs(op_time, id);
