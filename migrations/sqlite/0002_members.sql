-- Project membership with Harbor's roles: 1 ProjectAdmin, 2 Developer, 3 Guest, 4 Maintainer,
-- 5 LimitedGuest.
CREATE TABLE project_members (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id    INTEGER NOT NULL CHECK (role_id BETWEEN 1 AND 5),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members(user_id);
