-- PostgreSQL's 0026 adds triggers that notify other replicas of changes. SQLite has no other
-- replicas: the server reads `PRAGMA data_version` for commits by other processes instead
-- (server/src/db/changes.rs). Kept so both engines count the same migrations.
SELECT 1;
