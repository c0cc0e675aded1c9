-- +goose Up
-- See the PostgreSQL migration of the same name.
CREATE INDEX users_active_admins_idx ON users (user_id) WHERE role = 'admin' AND is_active;

-- +goose Down
DROP INDEX users_active_admins_idx;
