package planner

import (
	"fmt"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// benchSnapshot builds a cluster of n agents of 32 cores / 126976 MiB, each running 20 tasks
// (0.5 core, 512 MiB) of apps spread round-robin over n/5 applications: the shape of
// DESIGN.md §6's large cluster at n = 10,000 (200,000 tasks, 2,000 apps).
func benchSnapshot(n int) *mesos.Snapshot {
	s := &mesos.Snapshot{}
	apps := n / 5
	for a := 0; a < apps; a++ {
		s.Applications = append(s.Applications, mesos.Application{ID: fmt.Sprintf("/app-%05d", a), Role: "*"})
	}
	task := mesos.Resources{CPUs: 0.5, Mem: 512}
	for i := 0; i < n; i++ {
		total := mesos.Resources{CPUs: 32, Mem: 126976, Disk: 100000}
		ag := mesos.Agent{ID: fmt.Sprintf("S%05d", i), IP: fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256), Active: true, Total: total, Unreserved: total, TaskCount: 20}
		for k := 0; k < 20; k++ {
			app := (i*20 + k) % apps
			s.Tasks = append(s.Tasks, mesos.Task{AgentIndex: int32(i), AppIndex: int32(app), State: "TASK_RUNNING", Resources: task})
			s.Applications[app].Instances++
			ag.Used = ag.Used.Add(task).Add(mesos.Resources{CPUs: 0.125, Mem: 32})
		}
		s.Agents = append(s.Agents, ag)
	}
	return s
}

func benchConfig() Config {
	return Config{
		Name: "bench", Role: "*", Resources: []mesos.ResourceName{mesos.ResourceCPUs, mesos.ResourceMem},
		ScaleUpPercent: 80, ScaleDownPercent: 40, HeadroomPercent: 20,
		MinNodes: 1, MaxNodes: 20_000, ScaleDownEnabled: true, ScaleDownMaxStep: 1,
	}
}

// BenchmarkPlan1000 and BenchmarkPlan10000 plan on 1,000 and 10,000 agents: 20 % headroom of
// every application packed, utilization at 39 % so that a scale-down is also evaluated.
func BenchmarkPlan1000(b *testing.B)  { benchmarkPlan(b, 1000) }
func BenchmarkPlan10000(b *testing.B) { benchmarkPlan(b, 10_000) }

func benchmarkPlan(b *testing.B, n int) {
	snap := benchSnapshot(n)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	in := Input{Config: benchConfig(), Snapshot: snap, Now: now, Memory: Memory{ScaleDownSince: now.Add(-time.Hour)}}
	b.ReportAllocs()
	for b.Loop() {
		d := Plan(in)
		if d.PoolAgents != n {
			b.Fatalf("pool %d", d.PoolAgents)
		}
	}
}

// BenchmarkPlan1000Policies plans 1,000 small pools (10 agents each), as one controller
// process with 1,000 policies would in one round.
func BenchmarkPlan1000Policies(b *testing.B) {
	snap := benchSnapshot(10)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	in := Input{Config: benchConfig(), Snapshot: snap, Now: now}
	b.ReportAllocs()
	for b.Loop() {
		for p := 0; p < 1000; p++ {
			Plan(in)
		}
	}
}
