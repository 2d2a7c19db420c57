-- The version of a project's immutability rules, on the row every push locks
-- (`project_quotas`): a rule change bumps it in its transaction, so pushes and rule changes
-- are ordered by that one row lock, and a replica keeps the compiled rules in memory until
-- the version it reads under the lock differs.
ALTER TABLE project_quotas ADD COLUMN rules_version BIGINT NOT NULL DEFAULT 0;
