-- Garbage collection: blob life-cycle states, run history, schedules and leases.

-- `status` is the garbage collector's protocol state (see `gc::collector` for the argument):
-- 'live' (serving), 'deleting' (marked by a sweep; any use revives it to 'live'), 'purging'
-- (claimed by a sweep; bytes being deleted, row deleted after them). `touched_at` is the last
-- time a push used the blob (upload, mount, HEAD); the grace window counts from it.
ALTER TABLE blobs ADD COLUMN status TEXT NOT NULL DEFAULT 'live';
ALTER TABLE blobs ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
UPDATE blobs SET touched_at = created_at;
CREATE INDEX blobs_unsettled ON blobs(status) WHERE status <> 'live';
CREATE INDEX uploads_updated ON uploads(updated_at);
CREATE INDEX manifests_pushed ON manifests(pushed_at);

CREATE TABLE gc_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_kind      TEXT NOT NULL,
    dry_run           INTEGER NOT NULL,
    delete_untagged   INTEGER NOT NULL,
    workers           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    stop_requested    INTEGER NOT NULL DEFAULT 0,
    blobs_deleted     INTEGER NOT NULL DEFAULT 0,
    manifests_deleted INTEGER NOT NULL DEFAULT 0,
    uploads_purged    INTEGER NOT NULL DEFAULT 0,
    bytes_freed       INTEGER NOT NULL DEFAULT 0,
    log               TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    ended_at          INTEGER,
    updated_at        INTEGER NOT NULL
);

-- Cron schedules of background jobs, one row per job ('gc', later 'retention:<id>').
-- `next_run_at` is claimed with compare-and-set, so a schedule fires on exactly one replica.
CREATE TABLE schedules (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    cron          TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    next_run_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Leases keep a job on one replica at a time; a crashed holder's lease expires.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
