// Package deploy checks the deployment files: the Kubernetes manifests (k8s/), the
// Dockerfile and compose.yaml (at the repository's root). No container engine or cluster runs
// where the tests do, so the manifests are decoded strictly into the Kubernetes API's own
// types (an unknown or misspelt field fails) and held to what the service needs. A module of
// its own, so that the Kubernetes API's packages stay out of the service's dependencies.
package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
	if floor := m.hpa.Spec.MinReplicas; floor == nil || int(*floor) <= m.pdb.Spec.MinAvailable.IntValue() {
		t.Errorf("the autoscaler may go down to %v replicas, no more than the disruption budget keeps", floor)
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
	// The limits agree: hashing's memory budget fits the memory limit with room for the rest,
	// the pods' connections fit PostgreSQL's default max_connections, and the throttles are
	// shared through Redis.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	mib, err := strconv.ParseInt(strings.TrimSuffix(env["PASSWORD_HASH_MEMORY_BUDGET"], "MiB"), 10, 64)
	if limit := c.Resources.Limits.Memory(); err != nil || mib <= 0 || mib<<20*2 > limit.Value() {
		t.Errorf("PASSWORD_HASH_MEMORY_BUDGET=%q (in MiB) must be set, at most half the memory limit %v", env["PASSWORD_HASH_MEMORY_BUDGET"], limit)
	}
	// A rollout runs maxSurge pods beyond the most the autoscaler keeps; each holds its pool
	// and the relay's LISTEN connection; PostgreSQL keeps 3 of its default 100 for superusers.
	surge := 1
	if ru := m.deployment.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		surge = ru.MaxSurge.IntValue()
	}
	pods := int(m.hpa.Spec.MaxReplicas) + surge
	if conns, err := strconv.Atoi(env["DB_MAX_CONNS"]); err != nil || conns < 2 || pods*(conns+1) > 97 {
		t.Errorf("DB_MAX_CONNS=%q: %d pods x (pool + LISTEN) must fit the 97 connections PostgreSQL's default leaves", env["DB_MAX_CONNS"], pods)
	}
	if !strings.HasPrefix(m.secret.StringData["REDIS_URL"], "redis") {
		t.Error("the Secret has no REDIS_URL: each pod would throttle logins on its own")
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
// waiting for a healthy PostgreSQL, checking its own health, and refusing to start without a
// JWT_SECRET.
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
}
