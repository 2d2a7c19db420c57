-- User groups (Harbor's usergroups): LDAP groups (by DN), HTTP groups and OIDC groups (by
-- name). A directory or provider sign-in creates the groups the user is in and records the
-- membership in usergroup_users, replacing what the previous sign-in recorded: a change in the
-- directory takes effect at the next sign-in.
CREATE TABLE usergroups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name    TEXT NOT NULL,
    group_type    INTEGER NOT NULL CHECK (group_type BETWEEN 1 AND 3),
    ldap_group_dn TEXT NOT NULL DEFAULT '',
    -- What makes a group unique: the type and the lower-cased DN (DNs compare without case)
    -- for LDAP groups, the type and the name for the others.
    group_key     TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE usergroup_users (
    group_id INTEGER NOT NULL REFERENCES usergroups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX usergroup_users_user ON usergroup_users(user_id);

-- A project member is a user or a group (Harbor's entity_type 'u' or 'g'): one id space, so
-- /members/{mid} names either.
CREATE TABLE project_members_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id   INTEGER REFERENCES usergroups(id) ON DELETE CASCADE,
    role_id    INTEGER NOT NULL CHECK (role_id BETWEEN 1 AND 5),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (project_id, user_id),
    UNIQUE (project_id, group_id)
);
INSERT INTO project_members_new (id, project_id, user_id, role_id, created_at, updated_at)
    SELECT id, project_id, user_id, role_id, created_at, updated_at FROM project_members;
DROP TABLE project_members;
ALTER TABLE project_members_new RENAME TO project_members;
CREATE INDEX project_members_user ON project_members(user_id);
CREATE INDEX project_members_group ON project_members(group_id);
