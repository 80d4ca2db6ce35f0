package planner

import (
	"reflect"
	"testing"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
)

func TestProtectedApplications(t *testing.T) {
	// 4 agents of 8 cores; a000 runs /db/primary (protected by the prefix /db/), a001 runs
	// /web, a002 and a003 /web too. Utilization 4/32 = 12.5 %. Cheapest first: all run one
	// task; a000 is skipped (its /db/primary runs nowhere else) → a001 goes first.
	agents := uniform(4, cpuMem(8, 16384))
	agents[0].tasks = []ta{{app: "/db/primary", res: cpuMem(1, 512)}}
	for i := 1; i < 4; i++ {
		agents[i].tasks = []ta{{app: "/web", res: cpuMem(1, 512)}}
	}
	cfg := baseConfig()
	cfg.ProtectedApplications = []string{"/db/"}
	cfg.ScaleDownMaxStep = 0
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	// Removals: a001 (4/24 = 16.7 % before the 2nd), a002 (4/16 = 25 % before the 3rd), then
	// only a000 and a003 remain: a000 is protected, a003 would leave 4/8 = 50 % ≤ 80 %, and
	// its /web task moves to a000: accepted. Min 1 stops there.
	if want := []string{"a001", "a002", "a003"}; !reflect.DeepEqual(d.ScaleDownAgents, want) {
		t.Fatalf("victims %v, want %v; %v", d.ScaleDownAgents, want, d.Reasons)
	}
	// When /db/primary also runs on a001, a000 may go: it is the lowest id among equals.
	agents[1].tasks = append(agents[1].tasks, ta{app: "/db/primary", res: cpuMem(1, 512)})
	cfg.ScaleDownMaxStep = 1
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if want := []string{"a000"}; !reflect.DeepEqual(d.ScaleDownAgents, want) {
		t.Fatalf("victims %v, want %v", d.ScaleDownAgents, want)
	}
	if !IsProtected("/db/replica", []string{"/db*"}) || IsProtected("/dbx", []string{"/db/"}) || !IsProtected("kafka/broker-0", []string{"kafka/broker-0"}) {
		t.Error("isProtected prefix rules")
	}
}

func TestVictimsKeepZonesBalanced(t *testing.T) {
	// 5 idle agents: a000 and a001 in us-east-1b, a002-a004 in us-east-1a. Id order alone
	// would pick a000; the victim comes from 1a, the fuller zone: a002.
	agents := uniform(5, cpuMem(4, 4096))
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 5}
	zones := []string{"us-east-1b", "us-east-1b", "us-east-1a", "us-east-1a", "us-east-1a"}
	for i, a := range agents {
		in := inst("i-"+a.id, a.ip, "m5.xlarge")
		in.AvailabilityZone = zones[i]
		g.Instances = append(g.Instances, in)
	}
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Now: now})
	if want := []string{"a002"}; !reflect.DeepEqual(d.ScaleDownAgents, want) {
		t.Fatalf("victims %v, want %v (from the fuller zone)", d.ScaleDownAgents, want)
	}
}

func TestDrainBudgetAndUndrain(t *testing.T) {
	// 6 idle agents, 2 already draining (a000, a001), maxNodesPerStep 3: one more may start.
	agents := uniform(6, cpuMem(4, 4096))
	cfg := baseConfig()
	cfg.ScaleDownMaxStep = 3
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Draining: []string{"a000", "a001"}, Now: now})
	if d.PoolAgents != 4 || !reflect.DeepEqual(d.ScaleDownAgents, []string{"a002"}) {
		t.Fatalf("pool %d victims %v", d.PoolAgents, d.ScaleDownAgents)
	}
	// 3 draining: the budget is full.
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Draining: []string{"a000", "a001", "a002"}, Now: now})
	if len(d.ScaleDownAgents) != 0 || !has(d, ReasonDrainBudget) {
		t.Fatalf("victims %v; %v", d.ScaleDownAgents, reasons(d))
	}
	// Demand returns: 2 copies of 4 cores queued need 2 nodes; the 2 draining agents are
	// given back instead of launching anything.
	queue := []marathon.QueueItem{{AppID: "/q", Count: 2, Resources: cpuMem(4, 512), Overdue: true}}
	busy := uniform(4, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(2, 100)})
	busy = append(busy, tagent{id: "d1", ip: "10.0.9.1", total: cpuMem(4, 4096)}, tagent{id: "d2", ip: "10.0.9.2", total: cpuMem(4, 4096)})
	d = Plan(Input{Config: cfg, Snapshot: snapshot(busy...), Draining: []string{"d1", "d2"}, Pending: queue, Now: now})
	if !reflect.DeepEqual(d.UndrainAgents, []string{"d1", "d2"}) || d.Direction != NoChange || !has(d, ReasonUndrain) {
		t.Fatalf("undrain %v %s; %v", d.UndrainAgents, d.Direction, d.Reasons)
	}
}
