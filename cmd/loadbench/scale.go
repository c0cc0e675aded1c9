package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
)

// scalePoint is the latency of each workload at one table size.
type scalePoint struct {
	Users   int                `json:"users"`
	P50ms   map[string]float64 `json:"p50_ms"`
	P99ms   map[string]float64 `json:"p99_ms"`
	SeedSec float64            `json:"seed_seconds"`
}

// runScale measures get-by-id, register and list pages (first and 90 % deep) with one
// connection at each table size on PostgreSQL: index lookups and keyset pages should not care
// how many users there are.
func runScale(o options, bin string) error {
	ctx := context.Background()
	var points []scalePoint
	for _, n := range o.scale {
		db, err := newDatabase(ctx, o, "postgres")
		if err != nil {
			return err
		}
		svc, _, err := startService(bin, db.url, false)
		if err != nil {
			db.close()
			return err
		}
		err = func() error {
			defer db.close()
			defer svc.stop()
			if err := db.open(ctx, 4); err != nil {
				return err
			}
			t0 := time.Now()
			ids, times, err := db.seed(ctx, n)
			if err != nil {
				return err
			}
			seedTime := time.Since(t0)
			c := newConn(strings.TrimPrefix(svc.base, "http://"))
			defer c.close()
			token, err := adminToken(bin, db.url, svc.base)
			if err != nil {
				return err
			}
			cursor := cursorAfter(times[n*9/10], ids[n*9/10])
			var seq atomic.Int64
			run := time.Now().UnixNano() % 1e6
			workloads := []struct {
				name string
				op   op
			}{
				{"get", func(int) error {
					return c.do("GET", "/users/"+ids[rand.IntN(len(ids))].String(), token, "", 200)
				}},
				{"register", func(int) error {
					k := seq.Add(1)
					return c.do("POST", "/users", "", fmt.Sprintf(`{"username":"s%d_%d","email":"s%d_%d@example.com"}`, run, k, run, k), 201)
				}},
				{"list-first", func(int) error { return c.do("GET", "/users?limit=20", token, "", 200) }},
				{"list-deep", func(int) error { return c.do("GET", "/users?limit=20&cursor="+cursor, token, "", 200) }},
			}
			p := scalePoint{Users: n, P50ms: map[string]float64{}, P99ms: map[string]float64{}, SeedSec: seedTime.Seconds()}
			one := o
			one.concurrency = 1
			for _, w := range workloads {
				r, _, _ := measure(one, svc, w.op)
				if r.errors > 0 {
					return fmt.Errorf("%s at %d users: %d errors", w.name, n, r.errors)
				}
				p.P50ms[w.name], p.P99ms[w.name] = ms(r.quantile(0.5)), ms(r.quantile(0.99))
			}
			points = append(points, p)
			fmt.Fprintf(os.Stderr, "  %d users seeded in %.1fs\n", n, seedTime.Seconds())
			return nil
		}()
		if err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tget p50/p99 ms\tregister p50/p99 ms\tlist first p50/p99 ms\tlist deep p50/p99 ms\t")
	for _, p := range points {
		fmt.Fprintf(tw, "%d\t", p.Users)
		for _, w := range []string{"get", "register", "list-first", "list-deep"} {
			fmt.Fprintf(tw, "%.3f / %.3f\t", p.P50ms[w], p.P99ms[w])
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	return writeJSON(o.jsonPath, map[string]any{"time": time.Now().UTC(), "cpus": cpus(), "scale": points})
}

// cursorAfter builds the cursor of the page after a user without walking a million rows
// through the API. It mirrors the service's opaque format (version 1, created_at in Unix
// microseconds, big-endian, then the id; base64url without padding): a benchmark may know it,
// clients must not rely on it.
func cursorAfter(createdAt time.Time, id uuid.UUID) string {
	var b [25]byte
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:9], uint64(createdAt.UnixMicro()))
	copy(b[9:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
