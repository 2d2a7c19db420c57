-- Browser sessions of the web portal. Only a SHA-256 of the cookie's random id is stored, so
-- the table does not hand out sessions if it leaks.
CREATE TABLE ui_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions(expires_at);
