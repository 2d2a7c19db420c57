-- Project quotas. A project's usage is the size of every distinct digest its artifacts hold:
-- each manifest and each blob a manifest references, counted once per project however many
-- repositories or artifacts share it. `project_blobs` keeps a reference count per digest and
-- `project_quotas.used` their sum; both move in the transaction of the write that changes them,
-- through the triggers below, so no code path (push, delete, retention, garbage collection,
-- repository delete) can forget them. Blobs uploaded but not yet referenced are not counted:
-- the manifest push that references them is the gate (and uploads are checked early).
--
-- Every change locks the project's quota row before its `project_blobs` rows, so concurrent
-- writers in one project queue on one row in one order (no deadlock), and a push that checks
-- the limit after its writes sees every committed change.

CREATE TABLE project_quotas (
    project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    hard       BIGINT NOT NULL DEFAULT -1,
    used       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE project_blobs (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    refs       BIGINT NOT NULL,
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

CREATE FUNCTION wharf_quota_add(p BIGINT, d TEXT, s BIGINT) RETURNS void AS $$
DECLARE n BIGINT;
BEGIN
    IF p IS NULL THEN RETURN; END IF;
    PERFORM 1 FROM project_quotas WHERE project_id = p FOR UPDATE;
    INSERT INTO project_blobs (project_id, digest, size, refs) VALUES (p, d, s, 1)
        ON CONFLICT (project_id, digest) DO UPDATE SET refs = project_blobs.refs + 1
        RETURNING refs INTO n;
    IF n = 1 THEN
        UPDATE project_quotas SET used = used + s WHERE project_id = p;
    END IF;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION wharf_quota_remove(p BIGINT, d TEXT) RETURNS void AS $$
DECLARE n BIGINT; s BIGINT;
BEGIN
    IF p IS NULL THEN RETURN; END IF;
    PERFORM 1 FROM project_quotas WHERE project_id = p FOR UPDATE;
    UPDATE project_blobs SET refs = refs - 1 WHERE project_id = p AND digest = d RETURNING refs, size INTO n, s;
    IF n IS NOT NULL AND n <= 0 THEN
        DELETE FROM project_blobs WHERE project_id = p AND digest = d;
        UPDATE project_quotas SET used = used - s WHERE project_id = p;
    END IF;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION wharf_quota_project_created() RETURNS trigger AS $$
BEGIN
    INSERT INTO project_quotas (project_id, hard, used, created_at, updated_at)
        VALUES (NEW.id, -1, 0, NEW.created_at, NEW.created_at);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER quota_project_created AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION wharf_quota_project_created();

CREATE FUNCTION wharf_quota_manifest_added() RETURNS trigger AS $$
BEGIN
    PERFORM wharf_quota_add((SELECT project_id FROM repositories WHERE id = NEW.repository_id), NEW.digest, NEW.size);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER quota_manifest_added AFTER INSERT ON manifests
    FOR EACH ROW EXECUTE FUNCTION wharf_quota_manifest_added();

CREATE FUNCTION wharf_quota_blob_referenced() RETURNS trigger AS $$
BEGIN
    PERFORM wharf_quota_add(
        (SELECT r.project_id FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE m.id = NEW.manifest_id),
        NEW.digest,
        (SELECT size FROM blobs WHERE digest = NEW.digest));
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER quota_blob_referenced AFTER INSERT ON manifest_blobs
    FOR EACH ROW EXECUTE FUNCTION wharf_quota_blob_referenced();

-- Before the row goes, while its repository and references are still there to read.
CREATE FUNCTION wharf_quota_manifest_removed() RETURNS trigger AS $$
DECLARE p BIGINT; d TEXT;
BEGIN
    SELECT project_id INTO p FROM repositories WHERE id = OLD.repository_id;
    IF p IS NOT NULL THEN
        PERFORM wharf_quota_remove(p, OLD.digest);
        FOR d IN SELECT digest FROM manifest_blobs WHERE manifest_id = OLD.id LOOP
            PERFORM wharf_quota_remove(p, d);
        END LOOP;
    END IF;
    RETURN OLD;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER quota_manifest_removed BEFORE DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION wharf_quota_manifest_removed();
