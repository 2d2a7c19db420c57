-- Every replica keeps the rows a manifest pull reads (project, membership, repository, tag,
-- manifest) in memory while nothing changes (server/src/db/changes.rs). A change committed by
-- any replica notifies the others at its commit; PostgreSQL folds a transaction's identical
-- notifications into one.
CREATE FUNCTION wharf_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wharf_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER projects_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
CREATE TRIGGER repositories_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
CREATE TRIGGER tags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
CREATE TRIGGER manifests_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON manifests
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
CREATE TRIGGER project_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_members
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
CREATE TRIGGER usergroup_users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON usergroup_users
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_notify_change();
