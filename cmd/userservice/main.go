// Command userservice runs the user service: `serve` (the default) starts the HTTP API,
// `migrate up|down|status` manages the schema, `admin create` bootstraps an admin, `version`
// prints the build.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/acme/userservice/cmd/userservice/modules"
	"github.com/acme/userservice/platform/app"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/identity"
)

// features are the business modules the service runs, chosen from the catalogue of modules/
// (cmd/userservice/modules/modules_gen.go, generated). Adding a module is one line here (`make module NAME=<m>`
// adds it); removing the line removes the module: the service still builds, and the module's
// routes answer 404.
func features() fx.Option {
	return fx.Options(
		modules.Users(),
		modules.Audit(),
		modules.Notifications(),
	)
}

// version is set at build time with -ldflags "-X main.version=…"; otherwise the module
// version from the build information is used.
var version = ""

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "userservice:", err)
			os.Exit(1)
		}
	}
}

// usage is the command's help. The variables are Config's own list, so it cannot fall behind.
func usage() string {
	return `userservice: a user-management HTTP service.

Usage:
  userservice [serve]                 start the HTTP API (the default)
  userservice migrate up|down|status  apply, roll back (one step per module) or list migrations
  userservice admin create --username NAME --email EMAIL --password-stdin
                                      create an admin (the password is read from standard input)
  userservice healthcheck [--path P]  exit 0 when the running service answers GET P (/readyz) with 200
  userservice version                 print the version
  userservice <command> --help        help for a command

Configuration comes from environment variables (see docs/configuration.md):
` + wrap(strings.Join(config.Variables(), ", ")+", and OpenTelemetry's OTEL_* (tracing).", 92, "  ") + "\n"
}

// wrap breaks text into lines of at most width characters, each after indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line)+len(w)+1 > width && line != indent {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		line += w + " "
	}
	b.WriteString(strings.TrimRight(line, " "))
	return b.String()
}

func run(args []string, stdout, stderr io.Writer) error {
	return runWithInput(args, os.Stdin, stdout, stderr)
}

func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "migrate":
		return migrate(args, stdout, stderr)
	case "admin":
		return admin(args, stdin, stdout, stderr)
	case "healthcheck":
		return healthcheck(args, stdout, stderr)
	case "version":
		fs := newFlagSet("version", "userservice version\n\nPrints the version of this build.\n")
		if err := fs.parse(args, stdout, stderr); err != nil {
			return err
		}
		fmt.Fprintln(stdout, buildVersion())
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage())
		return nil
	}
	fmt.Fprint(stderr, usage())
	return fmt.Errorf("unknown command %q", cmd)
}

// flagSet is a command's flags and help. Help that was asked for goes to standard output
// (and the command exits 0); help after a mistake goes to standard error.
type flagSet struct {
	*flag.FlagSet
	help string
}

func newFlagSet(name, help string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse's errors are printed below, once
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, help: help}
}

// parse parses args; on --help it prints the help to stdout and returns flag.ErrHelp.
func (fs *flagSet) parse(args []string, stdout, stderr io.Writer) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, fs.help)
	case err != nil:
		fmt.Fprintln(stderr, err)
		fmt.Fprint(stderr, fs.help)
	}
	return err
}

// misuse prints the help to stderr and returns err: the command was called wrongly.
func (fs *flagSet) misuse(stderr io.Writer, err error) error {
	fmt.Fprint(stderr, fs.help)
	return err
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", `userservice serve

Starts the HTTP API on HTTP_ADDR against DATABASE_URL, applying pending migrations first unless
MIGRATE_ON_START=false. SIGINT or SIGTERM stops it gracefully: it stops accepting connections,
lets in-flight requests finish within SHUTDOWN_TIMEOUT, closes the database and exits 0.
`)
	if err := fs.parse(args, stdout, stderr); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := cfg.ForServing(); err != nil {
		return err
	}
	svc := fx.New(app.Serve(cfg, features()), fx.StopTimeout(cfg.ShutdownTimeout+5*time.Second))
	if err := svc.Err(); err != nil {
		return dig.RootCause(err)
	}
	startCtx, cancel := context.WithTimeout(context.Background(), svc.StartTimeout())
	defer cancel()
	if err := svc.Start(startCtx); err != nil {
		return err
	}
	<-svc.Wait()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), svc.StopTimeout())
	defer cancelStop()
	return svc.Stop(stopCtx)
}

func migrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", `userservice migrate up|down|status

  up      apply every pending migration of every module
  down    roll back the latest migration of every module
  status  list every migration and whether it is applied

Runs against DATABASE_URL. On PostgreSQL an advisory lock keeps concurrent runs apart.
`)
	if err := fs.parse(args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fs.misuse(stderr, errors.New("migrate needs exactly one of up, down, status"))
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	var m *database.Migrator
	svc := fx.New(app.Tools(cfg, features()), fx.Populate(&m), fx.NopLogger)
	if err := svc.Err(); err != nil {
		return dig.RootCause(err)
	}
	ctx := context.Background()
	defer func() { _ = svc.Stop(ctx) }()
	switch fs.Arg(0) {
	case "up":
		if err := m.Up(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
	case "down":
		if err := m.Down(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rolled back one migration per module")
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODULE\tVERSION\tSTATE\tFILE")
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Module, s.Version, state, s.Name)
		}
		return tw.Flush()
	default:
		return fs.misuse(stderr, fmt.Errorf("unknown migrate command %q", fs.Arg(0)))
	}
	return nil
}

// buildVersion is the version set at build time (make build: git describe), else what the Go
// toolchain recorded of the commit the binary was built from: the module's pseudo-version
// (v0.0.0-<time>-<commit>, "+dirty" with uncommitted changes) or, from older toolchains, the
// revision and its time.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	rev := vcs["vcs.revision"]
	if rev == "" {
		return "(devel)"
	}
	v := rev[:min(12, len(rev))]
	if vcs["vcs.modified"] == "true" {
		v += "-dirty"
	}
	if t := vcs["vcs.time"]; t != "" {
		v += " (" + t + ")"
	}
	return v
}

// healthcheck asks the service running on HTTP_ADDR (on this machine) whether it is ready: a
// container image without curl (distroless) uses it as its HEALTHCHECK.
func healthcheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", `userservice healthcheck [--path /readyz] [--timeout 2s]

Asks the service listening on HTTP_ADDR on this machine for GET path, and exits 0 when it
answers 200, 1 otherwise (with the reason on standard error). For container health checks:
/readyz (the default) says it can serve, /livez that the process is up.
`)
	path := fs.String("path", "/readyz", "the path to ask for")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := fs.parse(args, stdout, stderr); err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(os.Getenv("HTTP_ADDR"))
	if err != nil || port == "" {
		port = "8080"
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + *path) //nolint:gosec // G704: the host is this machine's loopback; the operator's flag picks only the path
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %d", *path, resp.StatusCode)
	}
	return nil
}

const adminHelp = `userservice admin create --username NAME --email EMAIL --password-stdin

Creates an active admin in the database of DATABASE_URL (migrating it first). The password is
read from standard input (one line), never from the command line, where other users of the
machine could read it. Fails with a one-line message when the email or username is taken.
`

func admin(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stdout, adminHelp)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, adminHelp)
		return errors.New("admin needs a subcommand: create")
	}
	fs := newFlagSet("admin create", adminHelp)
	username := fs.String("username", "", "the admin's username")
	email := fs.String("email", "", "the admin's email")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := fs.parse(args[1:], stdout, stderr); err != nil {
		return err
	}
	if *username == "" || *email == "" || !*fromStdin {
		return fs.misuse(stderr, errors.New("admin create needs --username, --email and --password-stdin"))
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	msg, err := createAdmin(context.Background(), cfg, *username, *email, strings.TrimRight(pw, "\r\n"))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, msg)
	return nil
}

// createAdmin migrates the configured database and creates an admin in it, through the
// users module's identity.Admins.
func createAdmin(ctx context.Context, cfg config.Config, username, email, password string) (string, error) {
	var (
		m      *database.Migrator
		admins identity.Admins
	)
	svc := fx.New(app.Tools(cfg, features()), fx.Populate(&m, &admins), fx.NopLogger)
	if err := svc.Err(); err != nil {
		return "", dig.RootCause(err)
	}
	defer func() { _ = svc.Stop(ctx) }()
	if err := m.Up(ctx); err != nil {
		return "", err
	}
	c, err := admins.CreateAdmin(ctx, username, email, password)
	if err != nil {
		return "", err
	}
	return "created admin " + username + " (" + c.ID.String() + ")", nil
}
