-- +goose Up
-- See the PostgreSQL migration of the same name.
CREATE TABLE mail_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    purpose    TEXT NOT NULL CONSTRAINT mail_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    user_id    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME
);
CREATE INDEX mail_tokens_user_id_idx ON mail_tokens (user_id, purpose);

CREATE TABLE mail_jobs (
    job_id          TEXT PRIMARY KEY NOT NULL,
    purpose         TEXT NOT NULL CONSTRAINT mail_jobs_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    user_id         TEXT NOT NULL,
    email           TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    created_at      DATETIME NOT NULL,
    next_attempt_at DATETIME NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_jobs_next_attempt_at_idx ON mail_jobs (next_attempt_at);

-- +goose Down
DROP TABLE mail_jobs;
DROP TABLE mail_tokens;
