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
	backlog := func() (float64, float64) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, oldest, err := s.backlog(ctx)
		if err != nil || n == 0 {
			return float64(n), 0
		}
		return float64(n), time.Since(oldest).Seconds()
	}
	collectors := []prometheus.Collector{
		m.Published, m.HandlerFailures, m.DeadLetters,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "events_outbox_backlog", Help: "Events written but not yet published.",
		}, func() float64 { n, _ := backlog(); return n }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "events_outbox_oldest_age_seconds", Help: "Age of the oldest event not yet published (0 when none).",
		}, func() float64 { _, age := backlog(); return age }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
