// Package mongotest gives tests a MongoDB database of their own: on the server TEST_MONGODB_URL
// names when it is set (a real MongoDB), otherwise on FerretDB v1 embedded in the test process
// with its SQLite backend, speaking MongoDB's wire protocol on a free loopback port. Only tests
// import it, so FerretDB never reaches the service's binary.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/acme/userservice/platform/database"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	once      sync.Once
	serverURL string
	startErr  error
)

// URL returns the URL of the test server without a database: TEST_MONGODB_URL, or the
// embedded FerretDB's, started on first use and left running until the test binary exits.
//
// FerretDB v1 applies an update as a read then a write, so a filter on a document's version
// does not make concurrent updates of one document atomic there, as it does on MongoDB. Its
// URL therefore caps each client at one connection (maxPoolSize=1): a client's operations
// reach the server one at a time, which is the atomicity MongoDB gives each of them.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("TEST_MONGODB_URL"); u != "" {
		return u
	}
	once.Do(func() { serverURL, startErr = start() })
	if startErr != nil {
		t.Fatalf("mongotest: start FerretDB: %v", startErr)
	}
	return serverURL
}

func start() (string, error) {
	dir, err := os.MkdirTemp("", "userservice-ferretdb-")
	if err != nil {
		return "", err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", err
	}
	go func() { _ = f.Run(context.Background()) }()
	return f.MongoDBURI() + "?maxPoolSize=1", nil
}

// Database returns a new, empty database on the test server, dropped when the test ends, and
// the URL of the server with the database's name as its path.
func Database(t testing.TB) (*mongo.Database, string) {
	t.Helper()
	base := URL(t)
	client, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatal(err)
	}
	name := "test_" + random()
	db := client.Database(name)
	t.Cleanup(func() {
		_ = db.Drop(context.Background())
		_ = client.Disconnect(context.Background())
	})
	return db, withDatabase(base, name)
}

// withDatabase returns the server URL with the database's name as its path, its options kept.
func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		panic(err) // the URL was just used to connect
	}
	u.Path = "/" + name
	return u.String()
}

func random() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Open opens a new, empty database on the test server as the service does (database.Open),
// prepared by the modules' migrations; it is closed and dropped when the test ends.
func Open(t testing.TB, migrations ...database.Migrations) *database.DB {
	t.Helper()
	_, url := Database(t)
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := database.MigrateUp(ctx, db, migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
