package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
)

// chromium returns the browser of the page tests: Debian's chromium (CI installs it), found
// on PATH. Without it the test is skipped, except in CI, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required in CI (apt-get install chromium)")
	}
	t.Skip("SKIPPED: no chromium on PATH; apt-get install chromium. CI=true makes this a failure.")
	return ""
}

// TestDocsPageInABrowser loads /docs in headless Chromium, finds the operations, registers a
// user from the page ("Try it out", then "Execute") and sees the 201; the page breaks no rule
// of its Content-Security-Policy and loads nothing from elsewhere. The screenshot is
// bin/docs.png.
func TestDocsPageInABrowser(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	a := startAPI(t, database.SQLite)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // as root in CI containers
		chromedp.UserDataDir(t.TempDir()),
		// A closed network: no calls home, no component updates.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1600),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		problems []string
	)
	listen := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded: // CSP violations and failed loads are logged here
			if e.Entry.Level == log.EntryLevelError {
				problems = append(problems, e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	})
	if listen != nil {
		t.Fatalf("starting the browser: %v", listen)
	}

	const op = `#operations-users-registerUser`
	err := chromedp.Do(ctx,
		chromedp.Navigate(a.Base+"/docs"), // redirected to /docs/
		chromedp.WaitVisible(op+` .opblock-summary`),
		chromedp.Click(op+` .opblock-summary`),
		chromedp.WaitVisible(op+` textarea.body-param__text`),
		// The body editor is React's: set its value the way typing would, with an input event.
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`(() => {
				const ta = document.querySelector('`+op+` textarea.body-param__text');
				Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set
					.call(ta, '{"username": "from_the_docs", "email": "docs@example.com"}');
				ta.dispatchEvent(new Event('input', {bubbles: true}));
				return null;
			})()`)(ctx, t)
			return err
		}),
		chromedp.Click(op+` button.execute`),
		chromedp.WaitVisible(op+` .live-responses-table tr.response .response-col_status`),
	)
	if err != nil {
		t.Fatalf("driving the page: %v (console: %v)", err, problems)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table tr.response .response-col_status`))
	if err != nil {
		t.Fatal(err)
	}
	response, err := chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table tr.response .response-col_description`))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "201") || !strings.Contains(response, "from_the_docs") {
		t.Fatalf("register from the page: status %q, response %q", status, response)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors (CSP violations, failed loads): %v", problems)
	}
	if root, err := filepath.Abs("../../bin"); err == nil && os.MkdirAll(root, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(root, "docs.png"), png, 0o644)
	}
}

// TestDocsEndpoints: the contract in YAML and JSON, the page under its own CSP; with
// DOCS_ENABLED=false all three are gone.
func TestDocsEndpoints(t *testing.T) {
	t.Parallel()
	a := startAPI(t, database.SQLite)
	for path, want := range map[string]string{
		"/openapi.yaml": "application/yaml", "/openapi.json": "application/json", "/docs/": "text/html",
	} {
		resp, err := http.Get(a.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if path == "/docs/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self' 'sha256-") {
			t.Errorf("/docs/ CSP: %q", resp.Header.Get("Content-Security-Policy"))
		}
	}
	off := startAPI(t, database.SQLite, apptest.Env("DOCS_ENABLED", "false"))
	for _, path := range []string{"/openapi.yaml", "/openapi.json", "/docs/"} {
		resp, err := http.Get(off.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("DOCS_ENABLED=false: %s answers %d", path, resp.StatusCode)
		}
	}
}
