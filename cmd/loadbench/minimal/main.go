// Command minimal is the load benchmark's baseline: the least a hand-written Go server needs
// to answer the benchmarked requests on PostgreSQL (net/http and pgx running the service's own
// SQL, the transactional outbox's included; no generated code, module container, authentication,
// validation beyond JSON, logging or metrics). make bench runs it beside the service on the same
// database, so service / minimal is what the service's layers cost. It is not a product: never deploy it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/userservice/cmd/loadbench/internal/statements"
	userevents "github.com/acme/userservice/modules/users/events"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	stmts, err := statements.Load("postgres")
	if err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	cfg.MaxConns = database.DefaultMaxConns() // the service's pool, so only the layers differ
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	s := &server{pool: pool, stmts: stmts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"healthy"}`))
	})
	mux.HandleFunc("POST /users", s.register)
	mux.HandleFunc("GET /users/{id}", s.get)
	mux.HandleFunc("POST /users/{id}/deactivate", s.deactivate)
	return http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux)
}

type server struct {
	pool  *pgxpool.Pool
	stmts map[string]string
}

// user is a user as the service renders one.
type user struct {
	UserID    uuid.UUID `json:"user_id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	IsActive  bool      `json:"is_active"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Email string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	u := user{UserID: uuid.Must(uuid.NewV7()), Username: in.Username, Email: in.Email, IsActive: true, Role: "user", CreatedAt: now, UpdatedAt: now}
	// As the service does: the user and its event in one statement (one round trip, atomic).
	ev, err := events.New("userservice/users", userevents.TypeRegistered, u.UserID.String(), now, "self", "", u)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	row, err := events.PostgresRow(ev)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, err = s.pool.Exec(r.Context(), s.stmts["InsertUserWithEvents"],
		pgtype.UUID{Bytes: u.UserID, Valid: true}, u.Username, u.Email, true, u.Role, nil, now, now, nil,
		[]pgtype.UUID{{Bytes: row.ID, Valid: true}}, []string{row.Type}, []int16{row.Part}, []time.Time{row.OccurredAt}, []string{row.Envelope})
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23505" {
		http.Error(w, "taken", http.StatusConflict)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	reply(w, http.StatusCreated, u)
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u, err := scan(s.pool.QueryRow(r.Context(), s.stmts["GetUserByID"], pgtype.UUID{Bytes: id, Valid: true}))
	answer(w, u, err)
}

func (s *server) deactivate(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// As the service does: read for update, update, record the event, in one transaction.
	var u user
	err = pgx.BeginFunc(r.Context(), s.pool, func(tx pgx.Tx) error {
		var err error
		u, err = scan(tx.QueryRow(r.Context(), s.stmts["GetUserForUpdate"], pgtype.UUID{Bytes: id, Valid: true}))
		if err != nil || !u.IsActive {
			return err
		}
		u.IsActive, u.UpdatedAt = false, time.Now().UTC()
		if _, err := tx.Exec(r.Context(), s.stmts["UpdateUser"], u.Username, u.Email, false, u.Role, nil, nil, u.UpdatedAt,
			pgtype.UUID{Bytes: id, Valid: true}); err != nil {
			return err
		}
		ev, err := events.New("userservice/users", userevents.TypeDeactivated, id.String(), u.UpdatedAt, "system", "",
			map[string]uuid.UUID{"user_id": id})
		if err != nil {
			return err
		}
		return events.AppendPostgres(r.Context(), tx, ev)
	})
	answer(w, u, err)
}

// scan reads a user from row (the columns of the service's statements).
func scan(row pgx.Row) (user, error) {
	var (
		u        user
		id       pgtype.UUID
		hash     pgtype.Text
		verified pgtype.Timestamptz
	)
	err := row.Scan(&id, &u.Username, &u.Email, &u.IsActive, &u.Role, &u.CreatedAt, &u.UpdatedAt, &hash, &verified)
	u.UserID = id.Bytes
	return u, err
}

// answer replies with u, or 404 when there was no row.
func answer(w http.ResponseWriter, u user, err error) {
	if errors.Is(err, pgx.ErrNoRows) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	reply(w, http.StatusOK, u)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
