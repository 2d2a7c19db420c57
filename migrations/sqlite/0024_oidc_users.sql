-- Accounts made by OpenID Connect sign-ins: the provider's user (issuer and subject) each is
-- tied to, and (sealed with the server's key) the refresh token the provider gave at the last
-- sign-in.
CREATE TABLE oidc_users (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL UNIQUE,
    refresh_token TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
