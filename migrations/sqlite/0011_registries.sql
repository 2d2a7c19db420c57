-- Registry endpoints (Harbor's "registries"): the upstreams of proxy-cache projects and the
-- peers of replication. `access_secret` is sealed (see `endpoints::seal`), never plain text.
CREATE TABLE registries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    url           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    insecure      INTEGER NOT NULL DEFAULT 0,
    access_key    TEXT NOT NULL DEFAULT '',
    access_secret TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'unknown',
    checked_at    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- A project with an upstream registry is a proxy cache of it.
ALTER TABLE projects ADD COLUMN registry_id INTEGER REFERENCES registries(id);
-- Harbor's proxy_speed_kb: the upstream bandwidth of a proxy project, KiB/s; -1 is unlimited.
ALTER TABLE projects ADD COLUMN proxy_speed_kb INTEGER NOT NULL DEFAULT -1;

-- A proxy cache stores an index before the children clients have not asked for; each missing
-- child waits here and is linked to the index when it arrives.
CREATE TABLE manifest_pending_children (
    parent_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    digest    TEXT NOT NULL,
    PRIMARY KEY (parent_id, digest)
);
CREATE INDEX manifest_pending_children_digest ON manifest_pending_children(digest);
