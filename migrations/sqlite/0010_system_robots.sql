-- System robot accounts (Harbor's level "system"): no project of their own (project_id NULL),
-- grants per project in robot_permissions, where a NULL project means every project.
-- SQLite cannot drop a NOT NULL constraint: the table is rebuilt (nothing references robots).
CREATE TABLE robots_v2 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
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
INSERT INTO robots_v2 (id, name, project_id, description, secret_hash, can_pull, can_push, can_delete,
    disabled, expires_at, created_at, updated_at)
SELECT id, name, project_id, description, secret_hash, can_pull, can_push, can_delete,
    disabled, expires_at, created_at, updated_at FROM robots;
DROP TABLE robots;
ALTER TABLE robots_v2 RENAME TO robots;
CREATE INDEX robots_project ON robots(project_id);

CREATE TABLE robot_permissions (
    robot_id    INTEGER NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    can_pull    INTEGER NOT NULL,
    can_push    INTEGER NOT NULL,
    can_delete  INTEGER NOT NULL
);
CREATE INDEX robot_permissions_robot ON robot_permissions(robot_id);
