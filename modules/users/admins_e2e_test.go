package users_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/acme/userservice/platform/apptest"
)

// problemDetail reads the detail of a problem+json body.
func problemDetail(t *testing.T, body string) string {
	t.Helper()
	var p struct{ Detail string }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	return p.Detail
}

// TestTheLastAdminStays: the last active admin cannot demote, deactivate or delete themself
// (a 409 saying why), which would leave the service with nobody to administer it but an
// operator at the command line; with a second admin, each of them may.
func TestTheLastAdminStays(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		root := a.NewAdmin(t)
		self := "/users/" + root.ID.String()
		refusals := []struct{ method, path, body, detail string }{
			{"PATCH", self, `{"role":"user"}`, "The last active admin cannot be demoted: make another user an admin first."},
			{"POST", self + "/deactivate", "", "The last active admin cannot be deactivated: make another user an admin first."},
			{"DELETE", self, "", "The last active admin cannot be deleted: make another user an admin first."},
		}
		for _, r := range refusals {
			status, h, body := a.Raw(t, r.method, r.path, root.Token, r.body)
			if status != http.StatusConflict || h.Get("Content-Type") != "application/problem+json" || problemDetail(t, body) != r.detail {
				t.Errorf("%s %s by the last admin: %d %s", r.method, r.path, status, body)
			}
		}
		if status, _, body := a.Raw(t, "GET", "/users/me", root.Token, ""); status != http.StatusOK || !jsonHas(t, body, "role", "admin") || !jsonHas(t, body, "is_active", true) {
			t.Fatalf("the last admin after the refusals: %d %s", status, body)
		}

		// A user's own deactivation is no admin's: it goes on as before.
		u := a.NewUser(t)
		if status, _, body := a.Raw(t, "POST", "/users/"+u.ID.String()+"/deactivate", u.Token, ""); status != http.StatusOK {
			t.Fatalf("a user deactivating themself: %d %s", status, body)
		}

		// With another admin, the first may go; then the other is the last.
		other := a.NewAdmin(t)
		if status, _, body := a.Raw(t, "PATCH", self, root.Token, `{"role":"user"}`); status != http.StatusOK {
			t.Fatalf("an admin demoting themself beside another: %d %s", status, body)
		}
		if status, _, body := a.Raw(t, "POST", "/users/"+other.ID.String()+"/deactivate", other.Token, ""); status != http.StatusConflict {
			t.Fatalf("the new last admin deactivating themself: %d %s", status, body)
		}
		if status, _, body := a.Raw(t, "DELETE", self, other.Token, ""); status != http.StatusNoContent {
			t.Fatalf("the last admin deleting a former admin: %d %s", status, body)
		}
	})
}

// patchRole demotes the user id with the token and returns the status: a.Raw's work, from a
// goroutine of the test's (where a transport error is an Error, not a Fatal).
func patchRole(t *testing.T, a *api, token, id string) int {
	req, err := http.NewRequest(http.MethodPatch, a.Base+"/users/"+id, strings.NewReader(`{"role":"user"}`))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.Validator.ResponsesOnly().Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// jsonHas reports whether the JSON object body has key with value.
func jsonHas(t *testing.T, body, key string, value any) bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	return m[key] == value
}

// TestAdminsDemotingEachOtherLeaveOne: two admins demoting each other, or each themself, at the
// same moment, round after round, on every engine: one of them goes, the other is refused
// (403 once demoted, or 409 as the last), and one active admin is always left.
func TestAdminsDemotingEachOtherLeaveOne(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admins := [2]apptest.User{a.NewAdmin(t), a.NewAdmin(t)}
		for round := range 8 {
			var (
				wg       sync.WaitGroup
				statuses [2]int
			)
			for i, actor := range admins {
				target := admins[1-i] // each other
				if round%2 == 1 {
					target = actor // each themself
				}
				wg.Go(func() { statuses[i] = patchRole(t, a, actor.Token, target.ID.String()) })
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch s {
				case http.StatusOK:
					ok++
				case http.StatusConflict, http.StatusForbidden:
				default:
					t.Fatalf("round %d: %v", round, statuses)
				}
			}
			var left []apptest.User
			for _, u := range admins {
				if status, _, body := a.Raw(t, "GET", "/users/me", u.Token, ""); status == http.StatusOK && jsonHas(t, body, "role", "admin") {
					left = append(left, u)
				}
			}
			if ok != 1 || len(left) != 1 {
				t.Fatalf("round %d: statuses %v, %d admins left; want one demotion and one admin", round, statuses, len(left))
			}
			for _, u := range admins {
				if u.ID != left[0].ID {
					if status, _, body := a.Raw(t, "PATCH", "/users/"+u.ID.String(), left[0].Token, `{"role":"admin"}`); status != http.StatusOK {
						t.Fatalf("promote again: %d %s", status, body)
					}
				}
			}
		}
	})
}
