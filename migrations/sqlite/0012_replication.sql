-- Replication (Harbor's push- and pull-based policies), their executions and per-artifact
-- tasks with logs. A policy's schedule lives in `schedules` as 'replication:<policy id>'.
CREATE TABLE replication_policies (
    id                           INTEGER PRIMARY KEY AUTOINCREMENT,
    name                         TEXT NOT NULL UNIQUE,
    description                  TEXT NOT NULL DEFAULT '',
    src_registry_id              INTEGER REFERENCES registries(id),
    dest_registry_id             INTEGER REFERENCES registries(id),
    dest_namespace               TEXT NOT NULL DEFAULT '',
    dest_namespace_replace_count INTEGER NOT NULL DEFAULT -1,
    trigger_kind                 TEXT NOT NULL,
    cron                         TEXT NOT NULL DEFAULT '',
    filters                      TEXT NOT NULL DEFAULT '[]',
    replicate_deletion           INTEGER NOT NULL DEFAULT 0,
    override_existing            INTEGER NOT NULL DEFAULT 1,
    enabled                      INTEGER NOT NULL DEFAULT 1,
    speed_kb                     INTEGER NOT NULL DEFAULT -1,
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL
);

CREATE TABLE replication_executions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id      INTEGER NOT NULL REFERENCES replication_policies(id) ON DELETE CASCADE,
    trigger_kind   TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_text    TEXT NOT NULL DEFAULT '',
    stop_requested INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX replication_executions_policy ON replication_executions(policy_id, id);

CREATE TABLE replication_tasks (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id         INTEGER NOT NULL REFERENCES replication_executions(id) ON DELETE CASCADE,
    resource_type        TEXT NOT NULL,
    source_resource      TEXT NOT NULL,
    destination_resource TEXT NOT NULL,
    operation            TEXT NOT NULL,
    status               TEXT NOT NULL,
    bytes                INTEGER NOT NULL DEFAULT 0,
    log                  TEXT NOT NULL DEFAULT '',
    started_at           INTEGER NOT NULL,
    ended_at             INTEGER
);
CREATE INDEX replication_tasks_execution ON replication_tasks(execution_id, id);
