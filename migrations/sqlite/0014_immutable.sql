-- Tag immutability: per-project rules (Harbor's ImmutableRule selectors as JSON). A tag an
-- enabled rule matches cannot be overwritten or deleted; pushes read the rules in their commit.
CREATE TABLE immutable_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    priority   INTEGER NOT NULL DEFAULT 0,
    disabled   INTEGER NOT NULL DEFAULT 0,
    selectors  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX immutable_rules_project ON immutable_rules(project_id, id);
