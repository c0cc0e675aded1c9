package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/google/uuid"
)

// admin is the benchmark's admin, logged in: the authenticated workloads send its token, and
// their ceilings look up its account and session as the service does.
type admin struct {
	token   string
	userID  uuid.UUID
	session uuid.UUID
}

// setUpAdmin creates the admin and logs it in on a first instance of the service, which
// migrates the database. The token outlives that instance; the measured one starts on a
// migrated database without the memory of this set-up's hashing.
func setUpAdmin(bin, dbURL string) (admin, error) {
	svc, _, err := startService(bin, dbURL, false)
	if err != nil {
		return admin{}, err
	}
	defer svc.stop()
	token, err := adminToken(bin, dbURL, svc.base)
	if err != nil {
		return admin{}, err
	}
	var me struct {
		UserID uuid.UUID `json:"user_id"`
	}
	if err := decode("GET", svc.base+"/users/me", token, "", &me); err != nil {
		return admin{}, err
	}
	session, err := sessionOf(token)
	if err != nil {
		return admin{}, err
	}
	return admin{token: token, userID: me.UserID, session: session}, nil
}

// decode sends one request (set-up, not measured) and decodes its JSON answer into out.
func decode(method, url, token, body string, out any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// adminToken creates an admin with the service's CLI and logs in.
func adminToken(bin, dbURL, base string) (string, error) {
	cmd := exec.Command(bin, "admin", "create", "--username", "bench_admin", "--email", "bench_admin@example.com", "--password-stdin")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "JWT_SECRET="+jwtSecret)
	cmd.Stdin = strings.NewReader("bench admin password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("admin create: %w %s", err, out)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err := decode("POST", base+"/auth/token", "", `{"email":"bench_admin@example.com","password":"bench admin password"}`, &tok)
	return tok.AccessToken, err
}

// sessionOf reads the session (sid) of an access token the service issued: the ceilings check
// it as the service does.
func sessionOf(token string) (uuid.UUID, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return uuid.Nil, errors.New("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return uuid.Nil, err
	}
	var claims struct {
		Session uuid.UUID `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return uuid.Nil, fmt.Errorf("access token claims: %w", err)
	}
	return claims.Session, nil
}
