package planner

import (
	"reflect"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
)

// inst is an InService, healthy instance at ip.
func inst(id, ip, typ string) cloud.Instance {
	return cloud.Instance{ID: id, PrivateIP: ip, InstanceType: typ, LifecycleState: "InService", HealthStatus: "Healthy"}
}

func TestLifecycleStatesAreNotCapacity(t *testing.T) {
	// 3 agents of 4 cores at 10.0.0.1-3, each 3.6 cores used. Instance i-3 is
	// Terminating:Wait (its agent still registered), i-4 Pending:Wait (upcoming), i-5 Standby.
	// Counted: a000, a001 (8 cores) + the upcoming i-4 (4) = 12 cores; used 7.2 → 60 %.
	agents := uniform(3, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(3.6, 100)})
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 3, Instances: []cloud.Instance{
		inst("i-1", "10.0.0.1", "m5.xlarge"), inst("i-2", "10.0.0.2", "m5.xlarge"),
		{ID: "i-3", PrivateIP: "10.0.0.3", LifecycleState: "Terminating:Wait"},
		{ID: "i-4", PrivateIP: "10.0.0.4", LifecycleState: "Pending:Wait"},
		{ID: "i-5", PrivateIP: "10.0.0.5", LifecycleState: "Standby"},
	}}
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.PoolAgents != 2 || d.UpcomingNodes != 1 || d.Utilization[0].Total != 12 || d.Utilization[0].Used != 7.2 {
		t.Fatalf("pool %d upcoming %d cpus %+v; %v", d.PoolAgents, d.UpcomingNodes, d.Utilization[0], d.Reasons)
	}
	if !has(d, ReasonInstancesLeaving) {
		t.Errorf("reasons %v lack InstancesLeaving", reasons(d))
	}
}

func TestWeightedGroup(t *testing.T) {
	// Mixed instances: m5.xlarge weight 1 (4 cores), m5.2xlarge weight 2 (8 cores). Agents:
	// a000 on i-1 (m5.xlarge), a001 on i-2 (m5.2xlarge); desired 3 units = 1 + 2.
	// Used: a000 3.6 of 4, a001 7.6 of 8 → 11.2 of 12 cores = 93 %. New nodes are planned as
	// the smallest type, m5.xlarge (4 cores, 1 unit): 11.2/(12+4n) ≤ 0.8 → n ≥ 0.5 → 1 node,
	// 1 unit: desired 4 units.
	agents := []tagent{
		{id: "a000", ip: "10.0.0.1", total: cpuMem(4, 16000), tasks: []ta{{app: "/w", res: cpuMem(3.6, 100)}}},
		{id: "a001", ip: "10.0.0.2", total: cpuMem(8, 32000), tasks: []ta{{app: "/w", res: cpuMem(3.8, 100)}, {app: "/w", res: cpuMem(3.8, 100)}}},
	}
	g := &cloud.Group{Name: "g", MinSize: 1, MaxSize: 20, DesiredCapacity: 3,
		InstanceTypes: []cloud.InstanceTypeWeight{{InstanceType: "m5.xlarge", WeightedCapacity: 1}, {InstanceType: "m5.2xlarge", WeightedCapacity: 2}},
		Instances:     []cloud.Instance{inst("i-1", "10.0.0.1", "m5.xlarge"), inst("i-2", "10.0.0.2", "m5.2xlarge")}}
	g.Instances[0].WeightedCapacity, g.Instances[1].WeightedCapacity = 1, 2
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Now: now})
	if !d.Units || d.CurrentCapacity != 3 || d.DesiredCapacity != 4 || d.NodeShape.CPUs != 4 || !has(d, ReasonNodeShapeFromType) {
		t.Fatalf("units %v %d→%d shape %+v; %v", d.Units, d.CurrentCapacity, d.DesiredCapacity, d.NodeShape, d.Reasons)
	}
	// Idle pool: removing the m5.2xlarge agent (weight 2) takes desired from 3 to 1 unit; the
	// minimum 1 unit allows it, and a000 (cheaper? both idle: lower dominant use, then id)
	// goes first: a000 weight 1 → desired 2.
	idle := []tagent{{id: "a000", ip: "10.0.0.1", total: cpuMem(4, 16000)}, {id: "a001", ip: "10.0.0.2", total: cpuMem(8, 32000)}}
	d = Plan(Input{Config: baseConfig(), Snapshot: snapshot(idle...), Group: g, Now: now})
	if d.Direction != ScaleDown || !reflect.DeepEqual(d.ScaleDownAgents, []string{"a000"}) || d.DesiredCapacity != 2 {
		t.Fatalf("%s %v →%d", d.Direction, d.ScaleDownAgents, d.DesiredCapacity)
	}
}

func TestMixedShapesPlannedWithTheSmallest(t *testing.T) {
	// The group launches c5.xlarge or m5.2xlarge; no agent of either is registered yet (the
	// pool is empty), EC2 says c5.xlarge = 4 vCPUs / 8192 MiB, m5.2xlarge = 8 / 32768, and
	// the overhead is 1024 MiB: the plan uses c5.xlarge, 4 cores / 7168 MiB. Marathon queues
	// 3 copies of 2 cores / 2048 MiB: 2 per node → 2 nodes.
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 0,
		InstanceTypes: []cloud.InstanceTypeWeight{{InstanceType: "m5.2xlarge"}, {InstanceType: "c5.xlarge"}}}
	cfg := baseConfig()
	cfg.MinNodes = 0
	cfg.InstanceOverhead = mesos.Resources{Mem: 1024}
	in := Input{Config: cfg, Snapshot: snapshot(), Group: g, Now: now,
		InstanceTypes: map[string]mesos.Resources{"c5.xlarge": {CPUs: 4, Mem: 8192}, "m5.2xlarge": {CPUs: 8, Mem: 32768}},
		Pending:       []marathon.QueueItem{{AppID: "/q", Count: 3, Resources: cpuMem(2, 2048), Overdue: true}}}
	d := Plan(in)
	if d.NodeShape != (mesos.Resources{CPUs: 4, Mem: 7168}) || d.NodesForDemand != 2 || d.DesiredCapacity != 2 {
		t.Fatalf("shape %+v demand %d desired %d; %v", d.NodeShape, d.NodesForDemand, d.DesiredCapacity, d.Reasons)
	}
}

func TestRegistrationTimeoutAndBackoff(t *testing.T) {
	// 2 busy agents (3.8 of 4 cores each: 95 %) and i-3 InService since 20 minutes without an
	// agent; timeout 15 minutes: i-3 no longer counts. Without i-3 the pool needs 1 node
	// (7.6/(8+4n) ≤ 0.8 → n ≥ 0.375), but a scale-up whose instance never registered backs off.
	agents := uniform(2, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(3.8, 100)})
	i3 := inst("i-3", "10.0.0.3", "m5.xlarge")
	i3.LaunchTime = now.Add(-20 * time.Minute)
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 3, Instances: []cloud.Instance{
		inst("i-1", "10.0.0.1", "m5.xlarge"), inst("i-2", "10.0.0.2", "m5.xlarge"), i3}}
	cfg := baseConfig()
	cfg.RegistrationTimeout = 15 * time.Minute
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.UpcomingNodes != 0 || !reflect.DeepEqual(d.MissingInstances, []string{"i-3"}) || !has(d, ReasonInstancesNotRegistered) {
		t.Fatalf("upcoming %d missing %v; %v", d.UpcomingNodes, d.MissingInstances, reasons(d))
	}
	// First sight: no growth, back-off of 1 minute.
	if d.Direction != NoChange || !has(d, ReasonScaleUpBackoff) || d.Memory.ScaleUpFailures != 1 || !d.Memory.ScaleUpBackoffUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("%s %v failures %d until %v", d.Direction, reasons(d), d.Memory.ScaleUpFailures, d.Memory.ScaleUpBackoffUntil)
	}
	// 30 s later: still waiting.
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Memory: d.Memory, Now: now.Add(30 * time.Second)})
	if d.Direction != NoChange || !has(d, ReasonScaleUpBackoff) {
		t.Fatalf("30 s: %s %v", d.Direction, reasons(d))
	}
	// After the back-off: one try (counted 2 + 1 = 3 ≤ desired 3: the group already asks for
	// it, so no increment is sent), next wait 2 minutes.
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Memory: d.Memory, Now: now.Add(61 * time.Second)})
	if d.Direction != NoChange || d.DesiredCapacity != 3 || d.Memory.ScaleUpFailures != 2 || !d.Memory.ScaleUpBackoffUntil.Equal(now.Add(61*time.Second+2*time.Minute)) {
		t.Fatalf("after back-off: %s →%d failures %d until %v; %v", d.Direction, d.DesiredCapacity, d.Memory.ScaleUpFailures, d.Memory.ScaleUpBackoffUntil, reasons(d))
	}
	// The instance registers late: it becomes a normal agent and the back-off resets.
	late := append(uniform(2, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(3.8, 100)}), tagent{id: "a002", ip: "10.0.0.3", total: cpuMem(4, 4096)})
	d = Plan(Input{Config: cfg, Snapshot: snapshot(late...), Group: g, Memory: d.Memory, Now: now.Add(5 * time.Minute)})
	if d.PoolAgents != 3 || d.Memory.ScaleUpFailures != 0 || !d.Memory.ScaleUpBackoffUntil.IsZero() {
		t.Fatalf("late registration: pool %d failures %d", d.PoolAgents, d.Memory.ScaleUpFailures)
	}
}

func TestFailedLaunches(t *testing.T) {
	// Desired 4, but only 2 instances: two launches failed (insufficient capacity). The pool
	// is at 95 % and wants 1 more node: counted 2 + 1 = 3 ≤ desired 4, so nothing is sent,
	// and ScaleUpFailed carries AWS's message.
	agents := uniform(2, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(3.8, 100)})
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 4, Instances: []cloud.Instance{
		inst("i-1", "10.0.0.1", "m5.xlarge"), inst("i-2", "10.0.0.2", "m5.xlarge")}}
	failed := []cloud.Activity{{StatusCode: "Failed", Description: "Launching a new EC2 instance.  Status Reason: ...",
		StatusMessage: "We currently do not have sufficient m5.xlarge capacity in the Availability Zone you requested (us-east-1a)."}}
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, FailedLaunches: failed, Now: now})
	if d.Direction != NoChange || d.DesiredCapacity != 4 || !has(d, ReasonScaleUpFailed) || d.UpcomingNodes != 0 {
		t.Fatalf("%s →%d upcoming %d; %v", d.Direction, d.DesiredCapacity, d.UpcomingNodes, d.Reasons)
	}
	for _, r := range d.Reasons {
		if r.Reason == ReasonScaleUpFailed && r.Message != "launching instances failed: We currently do not have sufficient m5.xlarge capacity in the Availability Zone you requested (us-east-1a)." {
			t.Errorf("message %q", r.Message)
		}
	}
}

func TestQueueConstraints(t *testing.T) {
	// 3 agents of 8 cores, pool=general, each running one /web task (hostname:UNIQUE, 1 core).
	// Marathon queues 2 more /web copies (UNIQUE): no agent may take a second one → 2 new
	// nodes, although the cores are free. /gpu needs gpus:LIKE:yes — no node of the pool has
	// it → unschedulable, no node. /batch is constrained to pool:batch and /public accepts
	// only slave_public → not for this pool.
	agents := uniform(3, cpuMem(8, 16384), ta{app: "/web", res: cpuMem(1, 512)})
	for i := range agents {
		agents[i].attrs = map[string]string{"pool": "general"}
	}
	queue := []marathon.QueueItem{
		{AppID: "/web", Count: 2, Resources: cpuMem(1, 512), Constraints: [][]string{{"hostname", "UNIQUE"}}, Overdue: true},
		{AppID: "/gpu", Count: 1, Resources: cpuMem(1, 512), Constraints: [][]string{{"gpus", "LIKE", "yes"}}, Overdue: true},
		{AppID: "/batch", Count: 5, Resources: cpuMem(4, 512), Constraints: [][]string{{"pool", "CLUSTER", "batch"}}, Overdue: true},
		{AppID: "/public", Count: 5, Resources: cpuMem(4, 512), AcceptedResourceRoles: []string{"slave_public"}, Overdue: true},
		{AppID: "/crashing", Count: 5, Resources: cpuMem(4, 512), DelaySeconds: 300},
	}
	cfg := baseConfig()
	cfg.AgentSelector = map[string]string{"pool": "general"}
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Pending: queue, Now: now})
	if d.NodesForDemand != 2 || d.DesiredCapacity != 5 || !reflect.DeepEqual(d.Unschedulable, []string{"/gpu"}) {
		t.Fatalf("demand %d desired %d unschedulable %v; %v", d.NodesForDemand, d.DesiredCapacity, d.Unschedulable, d.Reasons)
	}
	for _, r := range []string{ReasonNotForThisPool, ReasonPendingDelayed, ReasonUnschedulable} {
		if !has(d, r) {
			t.Errorf("reasons %v lack %s", reasons(d), r)
		}
	}
}

func TestHeadroomRespectsUnique(t *testing.T) {
	// 4 agents of 8 cores, /web (UNIQUE, per /v2/apps) runs on all 4: 50 % headroom = 2
	// copies that need 2 agents without /web → 2 new nodes.
	agents := uniform(4, cpuMem(8, 16384), ta{app: "/web", res: cpuMem(1, 512)})
	cfg := baseConfig()
	cfg.HeadroomPercent = 50
	apps := []marathon.App{{ID: "/web", Instances: 4, Resources: cpuMem(1, 512), Constraints: [][]string{{"hostname", "UNIQUE"}}}}
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Apps: apps, Now: now})
	if d.NodesForDemand != 2 || d.DesiredCapacity != 6 {
		t.Fatalf("demand %d desired %d; %v", d.NodesForDemand, d.DesiredCapacity, d.Reasons)
	}
	// Without the constraint the 2 copies fit in free cores.
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if d.NodesForDemand != 0 {
		t.Fatalf("without constraints: demand %d", d.NodesForDemand)
	}
}

func TestMatchingEdgeCases(t *testing.T) {
	// a-old and a-new share 10.0.0.1 (a-new re-registered after a restart; a-old inactive);
	// dup1/dup2 both report 10.0.0.2 (two agents registered with the same hostname): one
	// counts. 10.0.0.3 runs an agent with pool=batch (the selector wants general): a
	// SelectorMismatch, and i-3 is neither capacity nor upcoming.
	general := map[string]string{"pool": "general"}
	agents := []tagent{
		{id: "a-old", ip: "10.0.0.1", total: cpuMem(4, 4096), attrs: general, inactive: true},
		{id: "a-new", ip: "10.0.0.1", total: cpuMem(4, 4096), attrs: general},
		{id: "dup1", ip: "10.0.0.2", total: cpuMem(4, 4096), attrs: general},
		{id: "dup2", ip: "10.0.0.2", total: cpuMem(4, 4096), attrs: general},
		{id: "b", ip: "10.0.0.3", total: cpuMem(4, 4096), attrs: map[string]string{"pool": "batch"}},
	}
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 3, Instances: []cloud.Instance{
		inst("i-1", "10.0.0.1", "m5.xlarge"), inst("i-2", "10.0.0.2", "m5.xlarge"), inst("i-3", "10.0.0.3", "m5.xlarge")}}
	cfg := baseConfig()
	cfg.AgentSelector = general
	cfg.ScaleDownEnabled = false
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.PoolAgents != 2 || d.UpcomingNodes != 0 || d.Utilization[0].Total != 8 || !has(d, ReasonSelectorMismatch) {
		t.Fatalf("pool %d upcoming %d total %v; %v", d.PoolAgents, d.UpcomingNodes, d.Utilization[0].Total, d.Reasons)
	}

	// Matching by attribute instead of IP: agents carry instance_id.
	byAttr := []tagent{
		{id: "x", ip: "192.168.9.9", total: cpuMem(4, 4096), attrs: map[string]string{"instance_id": "i-1"}},
		{id: "y", ip: "192.168.9.8", total: cpuMem(4, 4096), attrs: map[string]string{"instance_id": "i-9"}},
	}
	cfg = baseConfig()
	cfg.InstanceIDAttribute = "instance_id"
	cfg.ScaleDownEnabled = false
	d = Plan(Input{Config: cfg, Snapshot: snapshot(byAttr...), Group: g, Now: now})
	// x matches i-1; y names no member (unmatched); i-2 and i-3 have no agent: upcoming.
	if d.PoolAgents != 1 || d.UpcomingNodes != 2 || !has(d, ReasonUnmatchedAgents) {
		t.Fatalf("by attribute: pool %d upcoming %d; %v", d.PoolAgents, d.UpcomingNodes, reasons(d))
	}
}

func TestScaleDownBrakes(t *testing.T) {
	// 4 idle agents on i-1..i-4 and 2 InService instances without agents (i-5, i-6, launched
	// recently so still upcoming... use a timeout of 1 s to make them missing): 2 of 6
	// unregistered = 33 % > 30 %: no removal.
	agents := uniform(4, cpuMem(4, 4096))
	old := now.Add(-time.Hour)
	var insts []cloud.Instance
	for i, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.9.5", "10.0.9.6"} {
		in := inst("i-"+string(rune('1'+i)), ip, "m5.xlarge")
		in.LaunchTime = old
		insts = append(insts, in)
	}
	g := &cloud.Group{Name: "g", MinSize: 0, MaxSize: 10, DesiredCapacity: 6, Instances: insts}
	cfg := baseConfig()
	cfg.RegistrationTimeout = time.Second
	cfg.MaxUnregisteredPercent = 30
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.Direction != NoChange || !has(d, ReasonScaleDownBlocked) {
		t.Fatalf("unregistered brake: %s %v", d.Direction, d.Reasons)
	}
	// 50 % allowed: removal goes ahead.
	cfg.MaxUnregisteredPercent = 50
	if d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Now: now}); d.Direction != ScaleDown {
		t.Fatalf("50 %%: %s %v", d.Direction, reasons(d))
	}
	// The previous reconcile saw 10 agents, now 4: a sudden loss; no removal.
	d = Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Memory: Memory{PoolAgents: 10}, Now: now})
	if d.Direction != NoChange || !has(d, ReasonAgentsLost) || d.Memory.PoolAgents != 4 {
		t.Fatalf("agents lost: %s %v", d.Direction, reasons(d))
	}
}
