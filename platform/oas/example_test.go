package oas_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"go.uber.org/fx"

	"github.com/acme/userservice/cmd/userservice/modules"
	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/oas"
)

// serviceURL is the service the examples call: the real one, on a fresh embedded database,
// started by TestMain (with the modules the examples use; the client itself needs none).
var serviceURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oas-example-")
	if err != nil {
		log.Fatal(err)
	}
	base, stop, err := apptest.Launch(dir, fx.Options(modules.Users(), modules.Audit()))
	if err != nil {
		log.Fatal(err)
	}
	serviceURL = base
	code := m.Run()
	if err := stop(); err != nil {
		log.Print(err)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Register, log in, call an operation as the user, and handle an error: every answer the
// contract describes is a typed result (a problem too); err is left for what it does not
// describe (the network, a response outside the contract).
func Example() {
	ctx := context.Background()
	// The public operations need no token.
	public, err := oas.NewClient(serviceURL, oas.StaticToken(""))
	if err != nil {
		log.Fatal(err)
	}
	jane := &oas.RegisterUserRequest{Username: "jane_doe", Email: "jane@example.com", Password: oas.NewOptString("correct horse battery")}
	res, err := public.RegisterUser(ctx, jane)
	if err != nil {
		log.Fatal(err)
	}
	switch r := res.(type) {
	case *oas.UserHeaders: // 201, with its Location
		fmt.Println("registered", r.Response.Username, "role", r.Response.Role)
	case *oas.RegisterUserConflict: // 409: the email or the username is taken
		fmt.Println("taken:", r.Detail)
	default: // 400, 413, 422, 503: each a problem of its own type
		fmt.Printf("refused: %T\n", r)
	}

	login, err := public.CreateToken(ctx, &oas.TokenRequest{Email: "jane@example.com", Password: "correct horse battery"})
	if err != nil {
		log.Fatal(err)
	}
	token, ok := login.(*oas.Token)
	if !ok {
		log.Fatalf("login refused: %T", login)
	}
	// A client that presents Jane's access token.
	asJane, err := oas.NewClient(serviceURL, oas.StaticToken(token.AccessToken))
	if err != nil {
		log.Fatal(err)
	}
	me, err := asJane.GetMe(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if u, ok := me.(*oas.User); ok {
		fmt.Println("signed in as", u.Username)
	}

	// Registering Jane again: a typed 409 problem, not an error.
	res, err = public.RegisterUser(ctx, jane)
	if err != nil {
		log.Fatal(err)
	}
	if p, ok := res.(*oas.RegisterUserConflict); ok {
		fmt.Println(p.Status, p.Title+":", p.Detail)
	}
	// Output:
	// registered jane_doe role user
	// signed in as jane_doe
	// 409 Conflict: User with username jane_doe already exists
}
