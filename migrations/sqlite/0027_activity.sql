-- A project's activity per day (the portal's summary charts) reads its audit entries of the
-- last 30 days: by project and time, not by project and id.
CREATE INDEX audit_logs_project_time ON audit_logs(project_id, op_time);
