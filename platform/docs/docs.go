// Package docs serves the contract and its interactive documentation, as FastAPI does: GET
// /openapi.yaml and GET /openapi.json (the contract embedded in the binary) and GET /docs,
// Swagger UI with its assets embedded (github.com/swaggest/swgui, pinned in go.mod: no CDN at
// run time), under a Content-Security-Policy that lets the page run its own scripts and styles
// and nothing else. DOCS_ENABLED=false turns all three off.
package docs

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/go-faster/yaml"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// Paths the documentation serves: the contract in both forms, and the page under Prefix.
const (
	YAMLPath = "/openapi.yaml"
	JSONPath = "/openapi.json"
	Prefix   = "/docs"
)

// Serves reports whether path is one of the documentation's.
func Serves(path string) bool {
	return path == YAMLPath || path == JSONPath || path == Prefix || strings.HasPrefix(path, Prefix+"/")
}

// Handler serves the documentation.
type Handler struct {
	yaml, json []byte
	page       http.Handler
	pageCSP    string
}

// New returns the documentation of contract, an OpenAPI document in YAML, without the
// operations of the groups (x-ogen-operation-group) that absent names: a module taken out of
// the service takes its routes out of the documents too, as out of the router. The documents
// it serves name the instance itself as their server (a relative "/"), so that "Try it out" on
// the page calls the instance that served it, whatever its address.
func New(contract []byte, absent map[string]bool) (*Handler, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(contract, &root); err != nil {
		return nil, fmt.Errorf("docs: the contract is not one YAML document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, errors.New("docs: the contract is not one YAML document")
	}
	servers := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "url"}, {Kind: yaml.ScalarNode, Value: "/"},
		{Kind: yaml.ScalarNode, Value: "description"}, {Kind: yaml.ScalarNode, Value: "this instance"},
	}}}}
	doc := root.Content[0]
	if paths := value(doc, "paths"); paths != nil {
		dropGroups(paths, absent)
	}
	replaced := false
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "servers" {
			doc.Content[i+1], replaced = servers, true
		}
	}
	if !replaced {
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "servers"}, servers)
	}
	asYAML, err := yaml.Marshal(&root)
	if err != nil {
		return nil, fmt.Errorf("docs: the contract as YAML: %w", err)
	}
	var tree any
	if err := root.Decode(&tree); err != nil {
		return nil, fmt.Errorf("docs: the contract: %w", err)
	}
	asJSON, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("docs: the contract as JSON: %w", err)
	}
	page := v5emb.NewWithConfig(swgui.Config{
		// "Try it out" on every operation; the bearer token is entered with "Authorize".
		SettingsUI: map[string]string{"tryItOutEnabled": "true", "persistAuthorization": "false"},
	})("userservice API", JSONPath, Prefix+"/")
	csp, err := policy(page)
	if err != nil {
		return nil, err
	}
	return &Handler{yaml: asYAML, json: asJSON, page: page, pageCSP: csp}, nil
}

// value returns the value of key in the mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// operationKeys are the keys of a path item that hold an operation.
var operationKeys = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

// dropGroups removes from paths the operations of absent groups, and the paths left with none.
func dropGroups(paths *yaml.Node, absent map[string]bool) {
	var keptPaths []*yaml.Node
	for i := 0; i+1 < len(paths.Content); i += 2 {
		item := paths.Content[i+1]
		var kept []*yaml.Node
		operations := 0
		for j := 0; j+1 < len(item.Content); j += 2 {
			key, op := item.Content[j], item.Content[j+1]
			if operationKeys[key.Value] {
				if g := value(op, "x-ogen-operation-group"); g != nil && absent[g.Value] {
					continue
				}
				operations++
			}
			kept = append(kept, key, op)
		}
		item.Content = kept
		if operations > 0 {
			keptPaths = append(keptPaths, paths.Content[i], item)
		}
	}
	paths.Content = keptPaths
}

var (
	inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	inlineStyle  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
)

// policy returns the page's Content-Security-Policy: its own origin for scripts, styles,
// images and requests (the API itself), plus the exact inline scripts and styles of the page
// it renders, by hash. Nothing from elsewhere, no eval, no frames, no forms.
func policy(page http.Handler) (string, error) {
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Prefix+"/", nil))
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("docs: the page renders %d", rec.Code)
	}
	html := rec.Body.String()
	hashes := func(re *regexp.Regexp) string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(html, -1) {
			sum := sha256.Sum256([]byte(m[1]))
			out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
		return strings.Join(out, " ")
	}
	return "default-src 'none'; script-src 'self' " + hashes(inlineScript) +
		"; style-src 'self' " + hashes(inlineStyle) +
		"; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", nil
}

// ServeHTTP serves GET and HEAD of the documentation's paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	switch r.URL.Path {
	case YAMLPath:
		hdr.Set("Content-Type", "application/yaml")
		hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		_, _ = w.Write(h.yaml)
	case JSONPath:
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		_, _ = w.Write(h.json)
	case Prefix:
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	default:
		hdr.Set("Content-Security-Policy", h.pageCSP)
		h.page.ServeHTTP(w, r)
	}
}
