-- Webhooks: per-project policies, and the deliveries their events make. An event is written
-- in the transaction of the change it reports, as one execution per subscribed policy with one
-- task per target; a worker on one replica at a time (a lease per task) sends each task and
-- retries it with backoff until it succeeds or the retention window ends. Nothing about a
-- delivery lives only in memory.

CREATE TABLE webhook_policies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    -- Comma-separated event types, with a comma at each end so one LIKE finds a type.
    event_types TEXT NOT NULL,
    -- JSON array of targets; auth headers sealed.
    targets     TEXT NOT NULL,
    creator     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE webhook_executions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id  INTEGER NOT NULL REFERENCES webhook_policies(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The event as Harbor's Default payload; other formats are derived when sent.
    payload    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    ended_at   INTEGER
);
CREATE INDEX webhook_executions_policy ON webhook_executions(policy_id, id);

CREATE TABLE webhook_tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id    INTEGER NOT NULL REFERENCES webhook_executions(id) ON DELETE CASCADE,
    -- The target as it was when the event happened (JSON; auth header sealed).
    target          TEXT NOT NULL,
    status          TEXT NOT NULL,
    run_count       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_holder    TEXT,
    lease_until     INTEGER,
    status_message  TEXT NOT NULL DEFAULT '',
    log             TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER
);
CREATE INDEX webhook_tasks_due ON webhook_tasks(status, next_attempt_at);
CREATE INDEX webhook_tasks_execution ON webhook_tasks(execution_id, id);
