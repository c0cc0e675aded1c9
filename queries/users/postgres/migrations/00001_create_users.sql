-- +goose Up
CREATE TABLE users (
    user_id    UUID PRIMARY KEY,
    username   TEXT NOT NULL,
    email      TEXT NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    role       TEXT NOT NULL DEFAULT 'user' CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Uniqueness is case-insensitive and guaranteed here, not by a check in the service: two
-- concurrent registrations race past any check, only one passes the index.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

-- Keyset pagination walks this index: a deep page costs what the first one does.
CREATE INDEX users_created_at_user_id_idx ON users (created_at, user_id);

-- +goose Down
DROP TABLE users;
