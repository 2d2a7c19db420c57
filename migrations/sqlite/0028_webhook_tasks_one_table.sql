-- An event's delivery to one target is one row: the task carries its execution's policy, event
-- and payload, and an execution is the group of tasks sharing `execution_id` (the id of its
-- first task). A push that reports an event then writes one row and two index entries instead
-- of two rows and four entries: on SQLite every page a commit dirties is written to the WAL by
-- the one writer all pushes share, and the event's pages were most of a governed push's extra
-- cost. A policy with several targets repeats the payload per target (Harbor's UI gives a
-- policy one target).
ALTER TABLE webhook_tasks RENAME TO webhook_tasks_old;
DROP INDEX webhook_tasks_due;
DROP INDEX webhook_tasks_execution;

CREATE TABLE webhook_tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The id of the execution's first task: the execution's id.
    execution_id    INTEGER NOT NULL,
    policy_id       INTEGER NOT NULL REFERENCES webhook_policies(id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    -- The event as Harbor's Default payload; other formats are derived when sent.
    payload         TEXT NOT NULL,
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

INSERT INTO webhook_tasks (id, execution_id, policy_id, event_type, payload, target, status, run_count,
    next_attempt_at, lease_holder, lease_until, status_message, log, created_at, updated_at, started_at, ended_at)
SELECT t.id, (SELECT MIN(s.id) FROM webhook_tasks_old s WHERE s.execution_id = t.execution_id), e.policy_id,
    e.event_type, e.payload, t.target, t.status, t.run_count, t.next_attempt_at, t.lease_holder, t.lease_until,
    t.status_message, t.log, t.created_at, t.updated_at, t.started_at, t.ended_at
FROM webhook_tasks_old t JOIN webhook_executions e ON e.id = t.execution_id ORDER BY t.id;

DROP TABLE webhook_tasks_old;
DROP TABLE webhook_executions;

-- An execution's tasks, and a policy's executions newest first.
CREATE INDEX webhook_tasks_policy ON webhook_tasks(policy_id, execution_id);
CREATE INDEX webhook_tasks_due ON webhook_tasks(status, next_attempt_at);
