package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// ErrUnavailable marks errors that mean the database cannot serve now (down, unreachable,
// overloaded, too slow) rather than that the request is wrong. HTTP answers them with 503.
var ErrUnavailable = errors.New("database unavailable")

// ClassifyPostgres wraps err with ErrUnavailable when it says PostgreSQL cannot be reached or
// is shutting down; it returns other errors unchanged.
func ClassifyPostgres(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if postgresUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func postgresUnavailable(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot
		// connect now; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	case errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, pgconn.ErrConnClosed):
		return true
	}
	// SafeToRetry: the statement never reached the server, which is a connection failure.
	return pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// ClassifySQLite wraps err with ErrUnavailable when SQLite stayed busy past its timeout.
func ClassifySQLite(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// ClassifyMongo wraps err with ErrUnavailable when it says MongoDB cannot be reached: a
// network error, a timeout, or no server to select.
func ClassifyMongo(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, new(topology.ServerSelectionError)) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// MongoDuplicate reports whether a MongoDB write was refused by a unique index. FerretDB v1
// (the tests' server) answers an update or an upsert that breaks one with its SQLite backend's
// error instead of MongoDB's code 11000.
func MongoDuplicate(err error) bool {
	return err != nil && (mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

// MongoOnlyDuplicates reports whether an insert of several documents failed only because some
// of them were there already: every write it refused was refused by a unique index.
func MongoOnlyDuplicates(err error) bool {
	var bulk mongo.BulkWriteException
	if !errors.As(err, &bulk) || bulk.WriteConcernError != nil || len(bulk.WriteErrors) == 0 {
		return MongoDuplicate(err)
	}
	for _, we := range bulk.WriteErrors {
		if we.Code != 11000 && !strings.Contains(we.Message, "UNIQUE constraint failed") {
			return false
		}
	}
	return true
}
