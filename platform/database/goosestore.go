package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pressly/goose/v3/database"
)

// sqliteStore is goose's SQLite version table with two queries of its own. The driver reads
// TIMESTAMP columns in the service's layout (dburl.TimeLayout), and goose's own stamps
// (datetime('now'): no fraction, no offset) are not in it, so the stamp is read as text; and
// whether the table exists is asked of sqlite_master, not inferred from a failing query.
type sqliteStore struct {
	database.Store
}

var _ database.StoreExtender = sqliteStore{}

func newSQLiteStore(table string) (sqliteStore, error) {
	s, err := database.NewStore(database.DialectSQLite3, table)
	return sqliteStore{Store: s}, err
}

// TableExists implements database.StoreExtender.
func (s sqliteStore) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var exists bool
	err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)", s.Tablename()).Scan(&exists)
	return exists, err
}

// GetMigration implements database.Store.
func (s sqliteStore) GetMigration(ctx context.Context, db database.DBTxConn, version int64) (*database.GetMigrationResult, error) {
	var (
		stamp   string
		applied bool
	)
	q := fmt.Sprintf("SELECT CAST(tstamp AS TEXT), is_applied FROM %q WHERE version_id = ? ORDER BY id DESC LIMIT 1", s.Tablename())
	err := db.QueryRowContext(ctx, q, version).Scan(&stamp, &applied)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", database.ErrVersionNotFound, version)
	}
	if err != nil {
		return nil, fmt.Errorf("version %d of %s: %w", version, s.Tablename(), err)
	}
	at, _ := time.Parse(time.DateTime, stamp) // goose's own format; a stamp is informative only
	return &database.GetMigrationResult{Timestamp: at, IsApplied: applied}, nil
}
