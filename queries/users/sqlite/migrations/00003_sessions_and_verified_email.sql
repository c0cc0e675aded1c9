-- +goose Up
-- See the PostgreSQL migration of the same name.
ALTER TABLE users ADD COLUMN email_verified_at DATETIME;

CREATE TABLE sessions (
    session_id   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_agent   TEXT NOT NULL,
    client_addr  TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    issued_at  DATETIME NOT NULL,
    used_at    DATETIME
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN email_verified_at;
