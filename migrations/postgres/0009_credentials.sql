-- Raised whenever a user's credentials change or the account is disabled: refresh tokens carry
-- the generation they were issued under and are refused once it moves on.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
