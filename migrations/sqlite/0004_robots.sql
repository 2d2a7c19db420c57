-- Project robot accounts: named robot$<project>+<name>, with explicit permissions and an expiry.
CREATE TABLE robots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    can_pull    INTEGER NOT NULL,
    can_push    INTEGER NOT NULL,
    can_delete  INTEGER NOT NULL,
    disabled    INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX robots_project ON robots(project_id);
