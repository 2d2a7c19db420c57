-- Audit log: who did what, when, from where. No foreign keys: entries outlive what they name.
CREATE TABLE audit_logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER,
    username      TEXT NOT NULL,
    operation     TEXT NOT NULL,
    resource      TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    client_ip     TEXT NOT NULL,
    op_time       INTEGER NOT NULL
);
CREATE INDEX audit_logs_project ON audit_logs(project_id, id);
