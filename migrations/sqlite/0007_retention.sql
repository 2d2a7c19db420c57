-- Tag retention: one policy per project (Harbor's JSON document), its executions and their
-- per-repository tasks with logs. The schedule lives in `schedules` as 'retention:<policy id>'.

CREATE TABLE retention_policies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL UNIQUE REFERENCES projects(id) ON DELETE CASCADE,
    policy     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE retention_executions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id      INTEGER NOT NULL REFERENCES retention_policies(id) ON DELETE CASCADE,
    trigger_kind   TEXT NOT NULL,
    dry_run        INTEGER NOT NULL,
    status         TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX retention_executions_policy ON retention_executions(policy_id, id);

CREATE TABLE retention_tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id INTEGER NOT NULL REFERENCES retention_executions(id) ON DELETE CASCADE,
    repository   TEXT NOT NULL,
    status       TEXT NOT NULL,
    total        INTEGER NOT NULL DEFAULT 0,
    retained     INTEGER NOT NULL DEFAULT 0,
    log          TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX retention_tasks_execution ON retention_tasks(execution_id, id);
