-- Each OIDC account's CLI secret (the password registry clients use, sealed with the server's
-- key so its owner can read it again) and when the provider's tokens from the last sign-in or
-- refresh expire (unix seconds): past it, the next CLI sign-in asks the provider with the refresh
-- token whether the session still stands.
ALTER TABLE oidc_users ADD COLUMN secret TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_users ADD COLUMN token_expires BIGINT NOT NULL DEFAULT 0;
