-- Project quotas. A project's usage is the size of every distinct digest its artifacts hold:
-- each manifest and each blob a manifest references, counted once per project however many
-- repositories or artifacts share it. `project_blobs` keeps a reference count per digest and
-- `project_quotas.used` their sum; both move in the transaction of the write that changes them,
-- through the triggers below, so no code path (push, delete, retention, garbage collection,
-- repository delete) can forget them. Blobs uploaded but not yet referenced are not counted:
-- the manifest push that references them is the gate (and uploads are checked early).

CREATE TABLE project_quotas (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    hard       INTEGER NOT NULL DEFAULT -1,
    used       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE project_blobs (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    refs       INTEGER NOT NULL,
    PRIMARY KEY (project_id, digest)
);

INSERT INTO project_quotas (project_id, hard, used, created_at, updated_at)
    SELECT id, -1, 0, created_at, created_at FROM projects;

INSERT INTO project_blobs (project_id, digest, size, refs)
    SELECT project_id, digest, MAX(size), COUNT(*) FROM (
        SELECT r.project_id AS project_id, m.digest AS digest, m.size AS size
            FROM manifests m JOIN repositories r ON r.id = m.repository_id
        UNION ALL
        SELECT r.project_id, mb.digest, b.size FROM manifest_blobs mb
            JOIN manifests m ON m.id = mb.manifest_id
            JOIN repositories r ON r.id = m.repository_id
            JOIN blobs b ON b.digest = mb.digest
    ) AS refs GROUP BY project_id, digest;

UPDATE project_quotas SET used =
    (SELECT COALESCE(SUM(size), 0) FROM project_blobs pb WHERE pb.project_id = project_quotas.project_id);

CREATE TRIGGER quota_project_created AFTER INSERT ON projects BEGIN
    INSERT INTO project_quotas (project_id, hard, used, created_at, updated_at)
        VALUES (NEW.id, -1, 0, NEW.created_at, NEW.created_at);
END;

CREATE TRIGGER quota_manifest_added AFTER INSERT ON manifests BEGIN
    INSERT INTO project_blobs (project_id, digest, size, refs)
        SELECT r.project_id, NEW.digest, NEW.size, 1 FROM repositories r WHERE r.id = NEW.repository_id
        ON CONFLICT (project_id, digest) DO UPDATE SET refs = refs + 1;
    UPDATE project_quotas SET used = used + NEW.size
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = NEW.repository_id)
        AND (SELECT refs FROM project_blobs pb
             WHERE pb.project_id = project_quotas.project_id AND pb.digest = NEW.digest) = 1;
END;

CREATE TRIGGER quota_blob_referenced AFTER INSERT ON manifest_blobs BEGIN
    INSERT INTO project_blobs (project_id, digest, size, refs)
        SELECT r.project_id, NEW.digest, b.size, 1 FROM manifests m
            JOIN repositories r ON r.id = m.repository_id JOIN blobs b ON b.digest = NEW.digest
            WHERE m.id = NEW.manifest_id
        ON CONFLICT (project_id, digest) DO UPDATE SET refs = refs + 1;
    UPDATE project_quotas SET used = used + (SELECT size FROM blobs WHERE digest = NEW.digest)
        WHERE project_id = (SELECT r.project_id FROM manifests m JOIN repositories r ON r.id = m.repository_id
                            WHERE m.id = NEW.manifest_id)
        AND (SELECT refs FROM project_blobs pb
             WHERE pb.project_id = project_quotas.project_id AND pb.digest = NEW.digest) = 1;
END;

-- Before the row goes, while its repository and references are still there to read.
CREATE TRIGGER quota_manifest_removed BEFORE DELETE ON manifests BEGIN
    UPDATE project_blobs SET refs = refs - 1
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id)
        AND (digest = OLD.digest OR digest IN (SELECT digest FROM manifest_blobs WHERE manifest_id = OLD.id));
    UPDATE project_quotas SET used = used -
        (SELECT COALESCE(SUM(size), 0) FROM project_blobs pb
         WHERE pb.project_id = project_quotas.project_id AND pb.refs <= 0)
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id);
    DELETE FROM project_blobs
        WHERE project_id = (SELECT project_id FROM repositories WHERE id = OLD.repository_id) AND refs <= 0;
END;
