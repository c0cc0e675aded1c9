-- +goose Up
-- When the user proved they receive mail at their address; NULL until then, and again after
-- the address changes.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

-- A session is one login: its refresh tokens and the access tokens issued with them name it
-- (the token's sid claim), and every authenticated request checks that it still exists.
-- Revoking a session deletes it, which ends its tokens at once; deleting the user deletes its
-- sessions.
CREATE TABLE sessions (
    session_id   UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_agent   TEXT NOT NULL,
    client_addr  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token a session was given, by its SHA-256 (the token itself is never stored).
-- A used token stays, marked, so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    issued_at  TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN email_verified_at;
