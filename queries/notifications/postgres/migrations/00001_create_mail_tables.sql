-- +goose Up
-- The single-use tokens of mailed links, by their SHA-256 (the token itself is only ever in the
-- mail). A token proves that whoever holds it receives mail at email; it works once, before
-- expires_at, for its purpose only.
CREATE TABLE mail_tokens (
    token_hash BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL CONSTRAINT mail_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    user_id    UUID NOT NULL,
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX mail_tokens_user_id_idx ON mail_tokens (user_id, purpose);

-- Mails to send. A job is written with what asks for the mail (an event handler's or a
-- request's transaction) and deleted with the token once the mail is sent; until then the
-- sender retries it with backoff, so an SMTP outage delays mail and loses none. A job holds no
-- token: the sender makes one for each attempt, and stores it only after the mail went out.
CREATE TABLE mail_jobs (
    job_id          UUID PRIMARY KEY,
    purpose         TEXT NOT NULL CONSTRAINT mail_jobs_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    user_id         UUID NOT NULL,
    email           TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_jobs_next_attempt_at_idx ON mail_jobs (next_attempt_at);

-- +goose Down
DROP TABLE mail_jobs;
DROP TABLE mail_tokens;
