-- Group projects: read-only projects whose pulls are answered by the first of their member
-- projects (hosted or proxy caches) that has the reference.
ALTER TABLE projects ADD COLUMN is_group INTEGER NOT NULL DEFAULT 0;

CREATE TABLE project_group_members (
    group_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX project_group_members_member ON project_group_members(member_id);
