-- +goose Up
-- The encoded argon2id hash (algorithm, parameters, salt and hash); NULL for users registered
-- without a password, who cannot log in until they set one.
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- +goose Down
ALTER TABLE users DROP COLUMN password_hash;
