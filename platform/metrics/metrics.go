// Package metrics owns the service's Prometheus registry, served at GET /metrics (on the API's
// listener, or on METRICS_ADDR's alone when that is set): Go runtime
// and process metrics, HTTP RED metrics (recorded by the HTTP server), and whatever modules and
// platform parts register (pool statistics, domain counters). The registry is the
// application's own, not the global default, so tests can build several side by side.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/sidelisten"
)

// Module provides the registry as prometheus.Registerer and prometheus.Gatherer, and the HTTP
// metrics.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
		func(r *prometheus.Registry) prometheus.Gatherer { return r },
		NewHTTP,
	),
	fx.Invoke(ServeAside),
)

// ServeAside serves GET /metrics on METRICS_ADDR, when it is set; the API's listener then
// answers that path 404 like any other unknown one.
func ServeAside(lc fx.Lifecycle, cfg config.Config, g prometheus.Gatherer, log *zap.Logger) {
	if cfg.MetricsAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	sidelisten.Serve(lc, log, "metrics", cfg.MetricsAddr, mux, cfg.ReadHeaderTimeout, nil)
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// HTTP are the RED metrics of the HTTP server. Routes are templates (/users/{user_id}), never
// raw paths, so the number of series stays bounded whatever clients send.
type HTTP struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	InFlight prometheus.Gauge
}

// NewHTTP registers and returns the HTTP metrics.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	m := &HTTP{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	for _, c := range []prometheus.Collector{m.Requests, m.Duration, m.InFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
