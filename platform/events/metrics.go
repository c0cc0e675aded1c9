package events

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the events backbone's Prometheus metrics.
type Metrics struct {
	Published       prometheus.Counter
	HandlerFailures *prometheus.CounterVec
	DeadLetters     *prometheus.CounterVec
}

// newMetrics registers the counters, and gauges of the outbox's backlog read at each scrape.
func newMetrics(reg prometheus.Registerer, s store) (*Metrics, error) {
	m := &Metrics{
		Published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "events_published_total", Help: "Events published to every subscribed handler.",
		}),
		HandlerFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_handler_failures_total", Help: "Failed runs of event handlers (each retry counts).",
		}, []string{"handler"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_dead_letters_total", Help: "Events a handler gave up on after every retry.",
		}, []string{"handler"}),
	}
	collectors := []prometheus.Collector{m.Published, m.HandlerFailures, m.DeadLetters, &backlogCollector{store: s}}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var (
	backlogDesc = prometheus.NewDesc("events_outbox_backlog", "Events written but not yet published.", nil, nil)
	oldestDesc  = prometheus.NewDesc("events_outbox_oldest_age_seconds", "Age of the oldest event not yet published (0 when none).", nil, nil)
)

// backlogCollector reads the outbox's backlog once per scrape for both of its gauges.
type backlogCollector struct{ store store }

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- oldestDesc
}

// Collect implements prometheus.Collector. A failed read reports nothing rather than a wrong
// zero: the gauges go missing from the scrape, which alerting sees.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, oldest, err := c.store.backlog(ctx)
	if err != nil {
		return
	}
	age := 0.0
	if n > 0 {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
