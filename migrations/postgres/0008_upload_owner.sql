-- Who started each upload session, so the sessions one account keeps open can be limited.
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX uploads_owner ON uploads(owner, updated_at);
