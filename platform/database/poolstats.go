package database

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports pgxpool's statistics, read at scrape time.
type poolCollector struct {
	pool *pgxpool.Pool
	desc map[string]*prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool, desc: map[string]*prometheus.Desc{
		"acquired":       d("acquired_connections", "Connections in use."),
		"idle":           d("idle_connections", "Idle connections."),
		"total":          d("total_connections", "Open connections."),
		"max":            d("max_connections", "The pool's size limit."),
		"acquires":       d("acquires_total", "Successful acquires."),
		"empty":          d("empty_acquires_total", "Acquires that had to wait for a connection."),
		"canceled":       d("canceled_acquires_total", "Acquires cancelled by their context."),
		"acquireSeconds": d("acquire_seconds_total", "Time spent acquiring connections."),
	}}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.desc {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.GaugeValue, v) }
	counter := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.desc[k], prometheus.CounterValue, v) }
	gauge("acquired", float64(s.AcquiredConns()))
	gauge("idle", float64(s.IdleConns()))
	gauge("total", float64(s.TotalConns()))
	gauge("max", float64(s.MaxConns()))
	counter("acquires", float64(s.AcquireCount()))
	counter("empty", float64(s.EmptyAcquireCount()))
	counter("canceled", float64(s.CanceledAcquireCount()))
	counter("acquireSeconds", s.AcquireDuration().Seconds())
}
