package mesos_test

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
)

// BenchmarkGatherAndPlan10000 is DESIGN.md §6's target: decode a 10,000-agent, 200,000-task
// /master/state (about 150 MB, streamed, never held whole) and plan on it with headroom 20 %.
// Target on the 2-core reference machine: ≤ 0.4 s and ≤ 150 MiB peak heap.
func BenchmarkGatherAndPlan10000(b *testing.B) { benchmarkGatherAndPlan(b, 10_000, 200_000) }

// BenchmarkGatherAndPlan1000 is the same at 1,000 agents and 20,000 tasks.
func BenchmarkGatherAndPlan1000(b *testing.B) { benchmarkGatherAndPlan(b, 1_000, 20_000) }

func benchmarkGatherAndPlan(b *testing.B, agents, tasks int) {
	cfg := planner.Config{
		Name: "bench", Role: "*", Resources: []mesos.ResourceName{mesos.ResourceCPUs, mesos.ResourceMem},
		ScaleUpPercent: 80, ScaleDownPercent: 40, HeadroomPercent: 20,
		MinNodes: 1, MaxNodes: 20_000, ScaleDownEnabled: true, ScaleDownMaxStep: 1,
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var peak uint64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		before := heapLive()
		b.StartTimer()
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() { // sample the live heap while gathering and planning
			var max uint64
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					done <- max
					return
				case <-t.C:
					if h := heapLive(); h > max {
						max = h
					}
				}
			}
		}()
		r := mesos.SyntheticState(agents, tasks, 100)
		snap, err := mesos.DecodeState(r)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		d := planner.Plan(planner.Input{Config: cfg, Snapshot: snap, Now: now, Memory: planner.Memory{ScaleDownSince: now.Add(-time.Hour)}})
		close(stop)
		if m := <-done; m > before && m-before > peak {
			peak = m - before
		}
		if d.PoolAgents != agents {
			b.Fatalf("planned on %d agents, want %d", d.PoolAgents, agents)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}

func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
