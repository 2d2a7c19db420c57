-- Webhook events as the change that makes them writes them: one row in its transaction, however
-- many policies and targets will hear of it. The sender turns a batch of them into executions
-- and tasks in a few statements (and deletes them) in one transaction of its own, so a push
-- pays one insert for its event while SQLite's single writer is shared with every other push.
CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

ALTER TABLE webhook_executions ADD COLUMN event_id INTEGER;
CREATE INDEX webhook_executions_event ON webhook_executions(event_id);
