package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// result is one workload's median round.
type result struct {
	Workload   string  `json:"workload"`
	ReqPerSec  float64 `json:"req_per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int     `json:"errors"`
	CPUusPerRq float64 `json:"cpu_us_per_req"`
	// PeakRSSMiB is the service's highest resident set during this workload, and PeakAnonMiB
	// the highest sample of its anonymous part (heap, stacks; the rest is the binary's code).
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	PeakAnonMiB float64 `json:"peak_anon_mib"`
	// GenCPUusPerRq is the load generator's own CPU per request: on a shared machine it is
	// taken from the service and the database.
	GenCPUusPerRq float64 `json:"loadgen_cpu_us_per_req"`
	Ceiling       float64 `json:"db_ceiling_per_sec,omitempty"`
	Ratio         float64 `json:"ratio_to_ceiling,omitempty"`
	// InsertCeiling is, for register, the ceiling of the user's INSERT alone (the register
	// ceiling before the outbox), and RatioToInsert the service's share of it: what the
	// outbox and its consumers cost.
	InsertCeiling float64 `json:"insert_ceiling_per_sec,omitempty"`
	RatioToInsert float64 `json:"ratio_to_insert_ceiling,omitempty"`
	// Minimal is the hand-written baseline's req/s (PostgreSQL: health, register, get,
	// deactivate), and RatioToMinimal the service's share of it.
	Minimal        float64 `json:"minimal_per_sec,omitempty"`
	MinimalP99ms   float64 `json:"minimal_p99_ms,omitempty"`
	RatioToMinimal float64 `json:"ratio_to_minimal,omitempty"`
	// SettledSec is how long the workload waited for the one before to be worked off, and
	// DrainedSec how long its own background work (events relayed, mails sent) went on after
	// its requests were answered.
	SettledSec float64 `json:"settled_sec"`
	DrainedSec float64 `json:"drained_sec"`
}

// engineResult is one engine's results.
type engineResult struct {
	Engine    string  `json:"engine"`
	StartupMs float64 `json:"startup_ms"`
	// PeakRSSMiB is the highest resident set of the service during the workloads other than
	// login, whose argon2id hashing holds its own memory (PeakRSSLoginMiB).
	PeakRSSMiB      float64  `json:"peak_rss_mib"`
	PeakAnonMiB     float64  `json:"peak_anon_mib"`
	PeakRSSLoginMiB float64  `json:"peak_rss_login_mib,omitempty"`
	Results         []result `json:"results"`
}

func printEngine(o options, r engineResult) {
	fmt.Printf("\n%s — %d connections, %s rounds × %d (median), %d CPUs, ready in %.1f ms, peak RSS %.1f MiB (anonymous %.1f MiB; %.1f MiB during login)\n",
		r.Engine, o.concurrency, o.duration, o.rounds, cpus(), r.StartupMs, r.PeakRSSMiB, r.PeakAnonMiB, r.PeakRSSLoginMiB)
	fmt.Println("DB ceiling: the statements the request runs (account lookup + operation when authenticated; one statement for both in get), from as many goroutines, no HTTP")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\treq/s\tp50 ms\tp99 ms\terrors\tCPU µs/req\tloadgen µs/req\tpeak RSS (anon) MiB\tDB ceiling/s\tservice/ceiling\tminimal/s\tminimal p99 ms\tservice/minimal\t")
	for _, x := range r.Results {
		ceil, ratio, minimal, minimalP99, share := "—", "—", "—", "—", "—"
		if x.Ceiling > 0 {
			ceil, ratio = fmt.Sprintf("%.0f", x.Ceiling), fmt.Sprintf("%.2f", x.Ratio)
		}
		if x.Minimal > 0 {
			minimal, share = fmt.Sprintf("%.0f", x.Minimal), fmt.Sprintf("%.2f", x.RatioToMinimal)
			minimalP99 = fmt.Sprintf("%.2f", x.MinimalP99ms)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\t%.0f\t%.0f\t%.1f (%.1f)\t%s\t%s\t%s\t%s\t%s\t\n", x.Workload, x.ReqPerSec, x.P50ms, x.P99ms, x.Errors, x.CPUusPerRq, x.GenCPUusPerRq, x.PeakRSSMiB, x.PeakAnonMiB, ceil, ratio, minimal, minimalP99, share)
	}
	_ = tw.Flush()
	for _, x := range r.Results {
		if x.InsertCeiling > 0 {
			fmt.Printf("%s: the user's INSERT alone (its ceiling before the outbox) %.0f/s; service / that = %.2f\n",
				x.Workload, x.InsertCeiling, x.RatioToInsert)
		}
	}
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println("results written to", path)
	return os.WriteFile(path, b, 0o644)
}
