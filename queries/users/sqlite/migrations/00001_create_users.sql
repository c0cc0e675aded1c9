-- +goose Up
CREATE TABLE users (
    user_id    TEXT PRIMARY KEY NOT NULL,
    username   TEXT NOT NULL,
    email      TEXT NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    role       TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

-- Uniqueness is case-insensitive and guaranteed here (see the PostgreSQL migration).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE INDEX users_created_at_user_id_idx ON users (created_at, user_id);

-- +goose Down
DROP TABLE users;
