-- System robot accounts (Harbor's level "system"): no project of their own (project_id NULL),
-- grants per project in robot_permissions, where a NULL project means every project.
ALTER TABLE robots ALTER COLUMN project_id DROP NOT NULL;

CREATE TABLE robot_permissions (
    robot_id    BIGINT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    project_id  BIGINT REFERENCES projects(id) ON DELETE CASCADE,
    can_pull    BIGINT NOT NULL,
    can_push    BIGINT NOT NULL,
    can_delete  BIGINT NOT NULL
);
CREATE INDEX robot_permissions_robot ON robot_permissions(robot_id);
