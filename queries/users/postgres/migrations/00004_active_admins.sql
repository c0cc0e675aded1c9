-- +goose Up
-- The active admins, for the guard that keeps at least one (OtherActiveAdmin): a handful of
-- rows among all the users, found without a scan of them.
CREATE INDEX users_active_admins_idx ON users (user_id) WHERE role = 'admin' AND is_active;

-- +goose Down
DROP INDEX users_active_admins_idx;
