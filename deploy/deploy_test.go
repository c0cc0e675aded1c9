// Package deploy checks the deployment files: the Kubernetes manifests (k8s/), the
// Dockerfile and compose.yaml (at the repository's root). No container engine or cluster runs
// where the tests do, so the manifests are decoded strictly into the Kubernetes API's own
// types (an unknown or misspelt field fails) and held to what the service needs. A module of
// its own, so that the Kubernetes API's packages stay out of the service's dependencies.
package deploy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// strict decodes the YAML file path into v, refusing fields v does not have.
func strict(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type manifests struct {
	secret     corev1.Secret
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
	hpa        autoscalingv2.HorizontalPodAutoscaler
}

func load(t *testing.T) manifests {
	t.Helper()
	var m manifests
	for file, v := range map[string]any{
		"secret.yaml": &m.secret, "deployment.yaml": &m.deployment, "service.yaml": &m.service,
		"pdb.yaml": &m.pdb, "hpa.yaml": &m.hpa,
	} {
		strict(t, filepath.Join("k8s", file), v)
	}
	for want, tm := range map[string]metav1.TypeMeta{
		"v1/Secret": m.secret.TypeMeta, "apps/v1/Deployment": m.deployment.TypeMeta, "v1/Service": m.service.TypeMeta,
		"policy/v1/PodDisruptionBudget": m.pdb.TypeMeta, "autoscaling/v2/HorizontalPodAutoscaler": m.hpa.TypeMeta,
	} {
		if got := tm.APIVersion + "/" + tm.Kind; got != want {
			t.Errorf("a manifest is %s, want %s", got, want)
		}
	}
	return m
}

func TestKubernetesManifests(t *testing.T) {
	m := load(t)
	pod := m.deployment.Spec.Template
	labels := pod.Labels
	matches := func(what string, sel map[string]string) {
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not carry", what, k, v)
			}
		}
	}
	matches("the Deployment", m.deployment.Spec.Selector.MatchLabels)
	matches("the Service", m.service.Spec.Selector)
	matches("the PodDisruptionBudget", m.pdb.Spec.Selector.MatchLabels)
	if ref := m.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("the autoscaler scales %s %s", ref.Kind, ref.Name)
	}
	if min := m.hpa.Spec.MinReplicas; min == nil || int(*min) <= m.pdb.Spec.MinAvailable.IntValue() {
		t.Errorf("the autoscaler may go down to %v replicas, no more than the disruption budget keeps", min)
	}
	if _, ok := m.secret.StringData["JWT_SECRET"]; !ok {
		t.Error("the Secret has no JWT_SECRET")
	}

	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	if len(pod.Spec.InitContainers) != 1 || !slices.Equal(pod.Spec.InitContainers[0].Args, []string{"migrate", "up"}) {
		t.Errorf("no init container migrating: %+v", pod.Spec.InitContainers)
	}
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: CPU and memory requests and a memory limit, please: %+v", c.Name, c.Resources)
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: no privilege escalation, a read-only root file system and no capabilities, please", c.Name)
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != m.secret.Name {
			t.Errorf("%s: takes its secrets from %+v, not the Secret %s", c.Name, c.EnvFrom, m.secret.Name)
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("the %s probe should GET %s on the http port: %+v", name, path, p)
		}
	}
	probe("liveness", c.LivenessProbe, "/livez")
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("startup", c.StartupProbe, "/livez")
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "MIGRATE_ON_START" && e.Value == "false" }) {
		t.Error("the serving container migrates too: MIGRATE_ON_START=false, the init container does it")
	}
	if g := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 15 {
		t.Errorf("terminationGracePeriodSeconds %v must exceed SHUTDOWN_TIMEOUT (15s)", g)
	}

	// Every manifest is in the kustomization.
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	strict(t, "k8s/kustomization.yaml", &k)
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("kustomization.yaml does not list %s", name)
		}
	}
}

// TestDockerfileBuildsAsMakeDoes: the image's binary is built by `make build`, the command
// people run, so the two cannot drift; it runs as non-root and checks its own health.
func TestDockerfileBuildsAsMakeDoes(t *testing.T) {
	docker, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	bin := regexp.MustCompile(`(?m)^BIN\s*:=\s*(\S+)`).FindSubmatch(makefile)
	if bin == nil || !regexp.MustCompile(`(?m)^build:.*\n\t.*-o \$\(BIN\) \./cmd/userservice`).Match(makefile) {
		t.Fatal("the Makefile's build target no longer builds $(BIN) from ./cmd/userservice")
	}
	for _, want := range []string{
		`(?m)^RUN make build\b`,
		`(?m)^COPY --from=build /src/` + regexp.QuoteMeta(string(bin[1])) + ` /userservice$`,
		`(?m)^USER 65532`,
		`(?m)^HEALTHCHECK .*\["/userservice", "healthcheck"\]`,
		`(?m)^FROM gcr\.io/distroless/static`,
	} {
		if !regexp.MustCompile(want).Match(docker) {
			t.Errorf("the Dockerfile lacks %s", want)
		}
	}
}

// TestCompose: compose.yaml's services, with the keys Compose knows (strictly), the service
// waiting for a healthy PostgreSQL, checking its own health, refusing to start without a
// JWT_SECRET, and mailing through a mail catcher.
func TestCompose(t *testing.T) {
	type healthcheck struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	}
	type service struct {
		Build       string                       `json:"build"`
		Image       string                       `json:"image"`
		Command     []string                     `json:"command"`
		Ports       []string                     `json:"ports"`
		Environment map[string]string            `json:"environment"`
		DependsOn   map[string]map[string]string `json:"depends_on"`
		Healthcheck *healthcheck                 `json:"healthcheck"`
		Restart     string                       `json:"restart"`
		Volumes     []string                     `json:"volumes"`
	}
	var compose struct {
		Name     string             `json:"name"`
		Services map[string]service `json:"services"`
		Volumes  map[string]any     `json:"volumes"`
	}
	strict(t, "../compose.yaml", &compose)
	us, ok := compose.Services["userservice"]
	if !ok || us.Build != "." {
		t.Fatalf("no userservice built from the Dockerfile: %+v", compose.Services)
	}
	if us.DependsOn["postgres"]["condition"] != "service_healthy" || compose.Services["postgres"].Healthcheck == nil {
		t.Error("the service must wait for a healthy PostgreSQL")
	}
	if us.Healthcheck == nil || !slices.Equal(us.Healthcheck.Test, []string{"CMD", "/userservice", "healthcheck"}) {
		t.Errorf("the service's health check: %+v", us.Healthcheck)
	}
	if !strings.HasPrefix(us.Environment["JWT_SECRET"], "${JWT_SECRET:?") {
		t.Errorf("JWT_SECRET must be required from the environment: %q", us.Environment["JWT_SECRET"])
	}
	if !strings.HasPrefix(us.Environment["DATABASE_URL"], "postgres://") || !strings.HasPrefix(us.Environment["NATS_URL"], "nats://") ||
		!strings.HasPrefix(us.Environment["REDIS_URL"], "redis://") {
		t.Errorf("the service's DATABASE_URL and NATS_URL: %+v", us.Environment)
	}

	// Mail goes to a real mail catcher, so that the verification and reset links of a compose
	// session can be followed: SMTP_URL names a Mailpit service on its SMTP port, the service
	// waits for it, and its web UI is published.
	smtp, err := url.Parse(us.Environment["SMTP_URL"])
	if err != nil || smtp.Scheme != "smtp" {
		t.Fatalf("SMTP_URL %q: want smtp://<mail catcher>:1025 (%v)", us.Environment["SMTP_URL"], err)
	}
	catcher, ok := compose.Services[smtp.Hostname()]
	switch {
	case !ok:
		t.Errorf("SMTP_URL names %q, which is no service of compose.yaml", smtp.Hostname())
	case !strings.HasPrefix(catcher.Image, "axllent/mailpit:") || strings.HasSuffix(catcher.Image, ":latest"):
		t.Errorf("the mail catcher's image is %q; want axllent/mailpit at a pinned version", catcher.Image)
	case smtp.Port() != "1025":
		t.Errorf("SMTP_URL %q: Mailpit takes SMTP on port 1025", us.Environment["SMTP_URL"])
	case !slices.ContainsFunc(catcher.Ports, func(p string) bool { return strings.HasSuffix(p, ":8025") }):
		t.Errorf("the mail catcher's web UI (8025) is not published: %v", catcher.Ports)
	case catcher.Healthcheck == nil || us.DependsOn[smtp.Hostname()]["condition"] != "service_healthy":
		t.Errorf("the service must wait for a healthy mail catcher: %+v", us.DependsOn)
	}
	if base := us.Environment["PUBLIC_BASE_URL"]; !slices.ContainsFunc(us.Ports, func(p string) bool {
		return strings.HasSuffix(base, "://localhost:"+strings.Split(p, ":")[0])
	}) {
		t.Errorf("PUBLIC_BASE_URL %q is not where compose publishes the service (%v): mailed links would not work", base, us.Ports)
	}
}

// TestDockerignore: what `make run` leaves in the work tree (the mails it keeps in MAIL_DIR,
// the SQLite files, the binaries) stays out of the image's build context: it would bloat
// every build and could carry a developer's mails and accounts into an image.
func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.Trim(line, "/"))
		}
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	mailDir := regexp.MustCompile(`(?m)^MAIL_DIR\s*\?=\s*(\S+)`).FindSubmatch(makefile)
	if mailDir == nil {
		t.Fatal("the Makefile no longer sets MAIL_DIR for make run")
	}
	for _, path := range []string{string(mailDir[1]), "userservice.db", "userservice.db-wal", "bin", ".git"} {
		if !slices.ContainsFunc(patterns, func(p string) bool { ok, _ := filepath.Match(p, path); return ok }) {
			t.Errorf(".dockerignore lets %s into the build context (patterns: %v)", path, patterns)
		}
	}
}
