-- Registry core: users, projects, repositories, blobs, uploads, manifests, tags.
-- Times are unix milliseconds; flags are 0/1 integers (portable through sqlx Any).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL DEFAULT '',
    realname      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    sysadmin      INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE projects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    public     INTEGER NOT NULL DEFAULT 0,
    owner_id   INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name       TEXT NOT NULL UNIQUE,
    pull_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX repositories_project ON repositories(project_id, name);

-- A blob row exists only once its bytes are in place under its digest.
CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- A repository serves only the blobs linked to it.
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest        TEXT NOT NULL REFERENCES blobs(digest),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    size          INTEGER NOT NULL DEFAULT 0,
    parts         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- The appended parts of an upload, in order. (upload_id, seq) is unique, so two requests racing
-- to append at the same position cannot both win.
CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    name      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

CREATE TABLE manifests (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest            TEXT NOT NULL,
    media_type        TEXT NOT NULL,
    artifact_type     TEXT,
    config_media_type TEXT,
    subject_digest    TEXT,
    annotations       TEXT,
    size              INTEGER NOT NULL,
    total_size        INTEGER NOT NULL,
    content           BLOB NOT NULL,
    pushed_at         INTEGER NOT NULL,
    pulled_at         INTEGER,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject_digest);

-- Blobs a manifest references (config and layers). The foreign key keeps a referenced blob row
-- from ever being deleted.
CREATE TABLE manifest_blobs (
    manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL REFERENCES blobs(digest),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs(digest);

-- Children of an index. A child cannot be deleted while a parent names it.
CREATE TABLE manifest_children (
    parent_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    child_id  INTEGER NOT NULL REFERENCES manifests(id),
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX manifest_children_child ON manifest_children(child_id);

CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    manifest_id   INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    pushed_at     INTEGER NOT NULL,
    pulled_at     INTEGER,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags(manifest_id);

-- Keys that sign registry tokens: generated once, shared by every replica.
CREATE TABLE signing_keys (
    id         TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
