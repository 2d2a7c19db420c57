-- Settings administrators change at run time (Harbor's /configurations): the authentication
-- mode and the LDAP and OIDC settings, one row per item, the value as JSON. Secrets (the LDAP
-- search password, the OIDC client secret) are sealed with the server's key before they are
-- written; every replica reads the same rows.
CREATE TABLE configurations (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
