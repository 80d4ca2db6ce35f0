package planner

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// ta is a test task: an application id, a role and a shape.
type ta struct {
	app  string
	role string
	res  mesos.Resources
}

// tagent is a test agent.
type tagent struct {
	id       string
	ip       string
	total    mesos.Resources
	reserved map[string]mesos.Resources
	tasks    []ta
	extra    mesos.Resources // executor overhead added to used
	attrs    map[string]string
	inactive bool
}

func cpuMem(c, m float64) mesos.Resources { return mesos.Resources{CPUs: c, Mem: m} }

// snapshot builds a Snapshot the way the decoder does: used = Σ tasks + extra, unreserved =
// total - reservations, applications sorted by id.
func snapshot(agents ...tagent) *mesos.Snapshot {
	s := &mesos.Snapshot{}
	appIdx := map[string]int32{}
	var ids []string
	roles := map[string]string{}
	for _, a := range agents {
		for _, t := range a.tasks {
			if _, ok := appIdx[t.app]; !ok {
				appIdx[t.app] = 0
				ids = append(ids, t.app)
				roles[t.app] = t.role
			}
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		appIdx[id] = int32(i)
		role := roles[id]
		if role == "" {
			role = "*"
		}
		s.Applications = append(s.Applications, mesos.Application{ID: id, Role: role})
	}
	for i, a := range agents {
		ag := mesos.Agent{ID: a.id, Hostname: a.ip, IP: a.ip, Active: !a.inactive, Total: a.total, Reserved: a.reserved, Attributes: a.attrs}
		unres := a.total
		for _, r := range a.reserved {
			unres = unres.Sub(r)
		}
		ag.Unreserved = unres
		used := a.extra
		for _, t := range a.tasks {
			used = used.Add(t.res)
			s.Tasks = append(s.Tasks, mesos.Task{AgentIndex: int32(i), AppIndex: appIdx[t.app], State: "TASK_RUNNING", Resources: t.res})
			s.Applications[appIdx[t.app]].Instances++
		}
		ag.Used = used
		ag.TaskCount = len(a.tasks)
		s.Agents = append(s.Agents, ag)
	}
	return s
}

// uniform returns n agents "a000".. of the given total, each running the given tasks.
func uniform(n int, total mesos.Resources, tasks ...ta) []tagent {
	out := make([]tagent, n)
	for i := range out {
		out[i] = tagent{id: fmt.Sprintf("a%03d", i), ip: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), total: total, tasks: tasks}
	}
	return out
}

func baseConfig() Config {
	return Config{
		Name: "general", Role: "*",
		Resources:      []mesos.ResourceName{mesos.ResourceCPUs, mesos.ResourceMem},
		ScaleUpPercent: 80, ScaleDownPercent: 40,
		HeadroomPercent: 0, MinNodes: 1, MaxNodes: 1000,
		ScaleDownEnabled: true, ScaleDownMaxStep: 1,
	}
}

func reasons(d Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Reason)
	}
	return out
}

func has(d Decision, reason string) bool {
	for _, r := range d.Reasons {
		if r.Reason == reason {
			return true
		}
	}
	return false
}

func TestPlanUtilizationScaleUp(t *testing.T) {
	// 100 agents of 1 core, each 0.9 cores used: 90 of 100 cores = 90 %, threshold 80 %.
	// Smallest n with 90/(100+n) ≤ 0.8: n ≥ 12.5 → 13 (the seed's ±100/n rule said 11).
	agents := uniform(100, cpuMem(1, 1000), ta{app: "/web", res: cpuMem(0.9, 100)})
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Now: now})
	if d.Direction != ScaleUp || d.CurrentCapacity != 100 || d.DesiredCapacity != 113 || d.NodesForUtilization != 13 {
		t.Fatalf("got %s %d→%d util=%d, want ScaleUp 100→113 util=13; reasons %v", d.Direction, d.CurrentCapacity, d.DesiredCapacity, d.NodesForUtilization, d.Reasons)
	}
	if got := d.Utilization[0]; got.Used != 90 || got.Total != 100 || got.Percent != 90 {
		t.Errorf("cpus utilization = %+v, want 90/100 = 90%%", got)
	}
	if got := d.Utilization[1]; got.Used != 10000 || got.Total != 100000 || got.Percent != 10 {
		t.Errorf("mem utilization = %+v, want 10000/100000 = 10%%", got)
	}
	if !has(d, ReasonUtilizationHigh) {
		t.Errorf("reasons %v lack UtilizationHigh", reasons(d))
	}
}

func TestPlanUtilizationExactlyAtThreshold(t *testing.T) {
	// 10 agents of 1 core, 0.8 used each: exactly 80 % is not above the threshold.
	agents := uniform(10, cpuMem(1, 1000), ta{app: "/web", res: cpuMem(0.8, 500)})
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Now: now})
	if d.Direction != NoChange || d.NodesForUtilization != 0 {
		t.Fatalf("got %s util=%d, want NoChange 0; %v", d.Direction, d.NodesForUtilization, d.Reasons)
	}
}

func TestPlanFloatNoise(t *testing.T) {
	// Mesos sums doubles: 0.0999999999999994 cores is 0.1. 10 agents of 0.125 cores with
	// 0.0999999999999994 used = 80 % exactly (0.1/0.125), so nothing is added.
	agents := uniform(10, cpuMem(0.125, 1000), ta{app: "/web", res: cpuMem(0.0999999999999994, 10)})
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Now: now})
	if d.NodesForUtilization != 0 {
		t.Fatalf("float noise added %d nodes", d.NodesForUtilization)
	}
}

func TestPlanHeadroom(t *testing.T) {
	cases := []struct {
		name        string
		agents      []tagent
		headroom    int32
		shape       *mesos.Resources
		wantDemand  int
		wantDesired int32
		wantUnsched []string
		wantReason  string
	}{
		{
			// 4 agents of 4 cores, 3 tasks of /web (1 core, 1 GiB) each: c = 12. X = 50 % →
			// 6 copies. Free space holds 4 (1 core per agent); 2 more need one new 4-core node.
			name:     "short by one node",
			agents:   uniform(4, cpuMem(4, 4096), ta{app: "/web", res: cpuMem(1, 1024)}, ta{app: "/web", res: cpuMem(1, 1024)}, ta{app: "/web", res: cpuMem(1, 1024)}),
			headroom: 50, wantDemand: 1, wantDesired: 5, wantUnsched: []string{}, wantReason: ReasonHeadroomShort,
		},
		{
			// Same cluster, X = 30 %: ceil(3.6) = 4 copies fit in the 4 free cores.
			name:     "met by free capacity",
			agents:   uniform(4, cpuMem(4, 4096), ta{app: "/web", res: cpuMem(1, 1024)}, ta{app: "/web", res: cpuMem(1, 1024)}, ta{app: "/web", res: cpuMem(1, 1024)}),
			headroom: 30, wantDemand: 0, wantDesired: 4, wantUnsched: []string{}, wantReason: ReasonHeadroomMet,
		},
		{
			// 2 agents of 8 cores each run one /big task of 6 cores (75 % used). X = 50 % →
			// 1 copy of 6 cores: 2 cores free on each agent, and the 4-core template cannot
			// hold it either: unschedulable, and no node is added for it.
			name:     "copy fits no template",
			agents:   uniform(2, cpuMem(8, 8192), ta{app: "/big", res: cpuMem(6, 1024)}),
			headroom: 50, shape: &mesos.Resources{CPUs: 4, Mem: 8192},
			wantDemand: 0, wantDesired: 2, wantUnsched: []string{"/big"}, wantReason: ReasonUnschedulable,
		},
		{
			// Two applications on 2 agents of 4 cores / 4096 MiB: /cpu (2 cores, 512 MiB) and
			// /mem (0.5 core, 3000 MiB) one each per agent... /cpu on a0, /mem on a1.
			// X = 100 %: one copy each. Free: a0 2 cores/3584 MiB, a1 3.5 cores/1096 MiB.
			// FFD by dominant share: /mem (3000/4096 = 0.73) before /cpu (0.5): /mem goes to
			// a0 (3584 ≥ 3000), leaving 1.5 cores; /cpu needs 2 cores: a0 has 1.5, a1 has
			// 3.5 → a1. No new node.
			name: "first-fit decreasing across two apps",
			agents: []tagent{
				{id: "a0", ip: "10.0.0.1", total: cpuMem(4, 4096), tasks: []ta{{app: "/cpu", res: cpuMem(2, 512)}}},
				{id: "a1", ip: "10.0.0.2", total: cpuMem(4, 4096), tasks: []ta{{app: "/mem", res: cpuMem(0.5, 3000)}}},
			},
			headroom: 100, wantDemand: 0, wantDesired: 2, wantUnsched: []string{}, wantReason: ReasonHeadroomMet,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.HeadroomPercent = tc.headroom
			cfg.NodeShape = tc.shape
			cfg.ScaleDownEnabled = false
			d := Plan(Input{Config: cfg, Snapshot: snapshot(tc.agents...), Now: now})
			if d.NodesForDemand != tc.wantDemand || d.DesiredCapacity != tc.wantDesired {
				t.Errorf("demand=%d desired=%d, want %d and %d; reasons %v", d.NodesForDemand, d.DesiredCapacity, tc.wantDemand, tc.wantDesired, d.Reasons)
			}
			if !reflect.DeepEqual(d.Unschedulable, tc.wantUnsched) {
				t.Errorf("unschedulable = %v, want %v", d.Unschedulable, tc.wantUnsched)
			}
			if !has(d, tc.wantReason) {
				t.Errorf("reasons %v lack %s", reasons(d), tc.wantReason)
			}
		})
	}
}

func TestPlanPendingAndUtilization(t *testing.T) {
	// 2 full agents of 4 cores (4 tasks of 1 core each). Marathon has 5 copies of /queued
	// (2 cores, 1 GiB) waiting: 2 fit per 4-core node → 3 new nodes. Utilization counts the
	// queued copies as used: (8 + 10)/(8 + 4n) ≤ 0.8 → n ≥ 3.625 → 4. max(3, 4) = 4 → 6 nodes.
	task := ta{app: "/web", res: cpuMem(1, 512)}
	agents := uniform(2, cpuMem(4, 8192), task, task, task, task)
	queue := []marathon.QueueItem{{AppID: "/queued", Count: 5, Resources: cpuMem(2, 1024)}}
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Pending: queue, Now: now})
	if d.NodesForDemand != 3 || d.NodesForUtilization != 4 || d.DesiredCapacity != 6 || d.Direction != ScaleUp {
		t.Fatalf("demand=%d util=%d desired=%d %s, want 3, 4, 6 ScaleUp; %v", d.NodesForDemand, d.NodesForUtilization, d.DesiredCapacity, d.Direction, d.Reasons)
	}
	if !has(d, ReasonPendingTasks) {
		t.Errorf("reasons %v lack PendingTasks", reasons(d))
	}
}

func TestPlanClampToMax(t *testing.T) {
	// 113 nodes needed (see TestPlanUtilizationScaleUp), maximum 105: 8 nodes unmet.
	agents := uniform(100, cpuMem(1, 1000), ta{app: "/web", res: cpuMem(0.9, 100)})
	cfg := baseConfig()
	cfg.MaxNodes = 105
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if d.DesiredCapacity != 105 || !has(d, ReasonScalingLimited) {
		t.Fatalf("desired=%d reasons=%v, want 105 with ScalingLimited", d.DesiredCapacity, reasons(d))
	}
	for _, r := range d.Reasons {
		if r.Reason == ReasonScalingLimited && r.Message != "113 nodes are needed but the maximum is 105; 8 nodes of demand are not met" {
			t.Errorf("ScalingLimited message = %q", r.Message)
		}
	}
}

func TestPlanGroupBoundsAndUpcoming(t *testing.T) {
	// Group: desired 3, MinSize 1, MaxSize 4; two InService instances registered as a000 and
	// a001 (4 cores each, 3.6 used = 90 %), one Pending instance. Total cpus = 2·4 + 1·4 (the
	// upcoming node, shape inferred from the agents) = 12; used 7.2 → 60 %: no scale-up, and
	// the booting instance blocks any scale-down.
	agents := uniform(2, cpuMem(4, 4096), ta{app: "/web", res: cpuMem(3.6, 1024)})
	g := &cloud.Group{Name: "mesos-agents-general", MinSize: 1, MaxSize: 4, DesiredCapacity: 3, Instances: []cloud.Instance{
		{ID: "i-1", LifecycleState: "InService", PrivateIP: "10.0.0.1"},
		{ID: "i-2", LifecycleState: "InService", PrivateIP: "10.0.0.2"},
		{ID: "i-3", LifecycleState: "Pending", PrivateIP: "10.0.0.3"},
	}}
	d := Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.PoolAgents != 2 || d.UpcomingNodes != 1 || d.CurrentCapacity != 3 || d.DesiredCapacity != 3 || d.Direction != NoChange {
		t.Fatalf("pool=%d upcoming=%d %d→%d %s, want 2, 1, 3→3 NoChange; %v", d.PoolAgents, d.UpcomingNodes, d.CurrentCapacity, d.DesiredCapacity, d.Direction, d.Reasons)
	}
	if u := d.Utilization[0]; u.Total != 12 || u.Used != 7.2 || u.Percent != 60 {
		t.Errorf("cpus = %+v, want 7.2/12 = 60%%", u)
	}
	if d.MinCapacity != 1 || d.MaxCapacity != 4 {
		t.Errorf("bounds [%d,%d], want [1,4]", d.MinCapacity, d.MaxCapacity)
	}

	// A second reconcile while i-3 boots, now at 100 % on the registered agents (4/4 each):
	// used 8 of 12 = 66.7 % → still nothing added: the booting node is counted once.
	agents = uniform(2, cpuMem(4, 4096), ta{app: "/web", res: cpuMem(4, 1024)})
	d = Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.Direction != NoChange || d.DesiredCapacity != 3 {
		t.Fatalf("second reconcile: %s →%d, want NoChange 3; %v", d.Direction, d.DesiredCapacity, d.Reasons)
	}

	// Demand for 5 nodes with MaxSize 4: the group's max wins over the policy's 1000.
	agents = uniform(2, cpuMem(4, 4096), ta{app: "/web", res: cpuMem(4, 1024)})
	queue := []marathon.QueueItem{{AppID: "/q", Count: 8, Resources: cpuMem(4, 512)}}
	d = Plan(Input{Config: baseConfig(), Snapshot: snapshot(agents...), Group: g, Pending: queue, Now: now})
	// 8 copies of 4 cores: 1 into the upcoming node, 7 new nodes → 3 + 7 = 10 > 4.
	if d.DesiredCapacity != 4 || d.NodesForDemand != 7 || !has(d, ReasonScalingLimited) {
		t.Fatalf("desired=%d demand=%d %v, want 4, 7, ScalingLimited", d.DesiredCapacity, d.NodesForDemand, reasons(d))
	}
}

func TestPlanRoleReservations(t *testing.T) {
	// One agent: 4 cores, 2 reserved to "kafka". A kafka task uses its 2 reserved cores and a
	// marathon task 1 unreserved core: used_resources = 3. For role "*" the usable capacity
	// is the 2 unreserved cores, of which 1 is used: 50 %.
	agents := []tagent{{
		id: "a0", ip: "10.0.0.1", total: cpuMem(4, 4096),
		reserved: map[string]mesos.Resources{"kafka": cpuMem(2, 2048)},
		tasks:    []ta{{app: "kafka/broker-0", role: "kafka", res: cpuMem(2, 2048)}, {app: "/web", res: cpuMem(1, 512)}},
	}}
	cfg := baseConfig()
	cfg.ScaleDownEnabled = false
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if u := d.Utilization[0]; u.Used != 1 || u.Total != 2 || u.Percent != 50 {
		t.Errorf("role *: cpus = %+v, want 1/2 = 50%%", u)
	}
	// For role "kafka" the reservation counts: usable 4, used 3 → 75 %.
	cfg.Role = "kafka"
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if u := d.Utilization[0]; u.Used != 3 || u.Total != 4 || u.Percent != 75 {
		t.Errorf("role kafka: cpus = %+v, want 3/4 = 75%%", u)
	}
}

func TestPlanScaleDown(t *testing.T) {
	// 10 agents of 4 cores / 8192 MiB; a000 and a001 each run one /app task (1 core,
	// 1024 MiB), the other 8 are empty. cpus 2/40 = 5 %, mem 2048/81920 = 2.5 %: below 40 %.
	// Headroom 20 % of c = 2 → 1 copy.
	build := func() *mesos.Snapshot {
		agents := uniform(10, cpuMem(4, 8192))
		agents[0].tasks = []ta{{app: "/app", res: cpuMem(1, 1024)}}
		agents[1].tasks = []ta{{app: "/app", res: cpuMem(1, 1024)}}
		return snapshot(agents...)
	}
	cases := []struct {
		name     string
		maxStep  int32
		min      int32
		idleOnly bool
		want     []string
		wantDesi int32
	}{
		// Step 1: the cheapest agent is the first empty one by id.
		{name: "one per step", maxStep: 1, min: 1, want: []string{"a002"}, wantDesi: 9},
		// Unlimited, min 1: the 8 empty agents go first. Before the 9th removal cpus are
		// 2/8 = 25 % < 40 %; after it 2/4 = 50 % ≤ 80 %, and a000's task plus the headroom
		// copy fit in a001's 3 free cores: accepted. Then the minimum (1) stops it.
		{name: "unlimited down to the minimum", maxStep: 0, min: 1,
			want: []string{"a002", "a003", "a004", "a005", "a006", "a007", "a008", "a009", "a000"}, wantDesi: 1},
		// Min 3 leaves room for 7 removals.
		{name: "minimum 3", maxStep: 0, min: 3,
			want: []string{"a002", "a003", "a004", "a005", "a006", "a007", "a008"}, wantDesi: 3},
		// Idle agents only: the 8 empty ones, never a000 or a001 that run a task.
		{name: "idle only", maxStep: 0, min: 1, idleOnly: true,
			want: []string{"a002", "a003", "a004", "a005", "a006", "a007", "a008", "a009"}, wantDesi: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.HeadroomPercent = 20
			cfg.ScaleDownMaxStep = tc.maxStep
			cfg.MinNodes = tc.min
			cfg.ScaleDownIdleOnly = tc.idleOnly
			d := Plan(Input{Config: cfg, Snapshot: build(), Now: now})
			if d.Direction != ScaleDown || d.DesiredCapacity != tc.wantDesi || !reflect.DeepEqual(d.ScaleDownAgents, tc.want) {
				t.Fatalf("%s →%d %v, want ScaleDown →%d %v; %v", d.Direction, d.DesiredCapacity, d.ScaleDownAgents, tc.wantDesi, tc.want, d.Reasons)
			}
		})
	}
}

func TestPlanScaleDownNoFlap(t *testing.T) {
	// 2 agents of 4 cores, each 1.5 cores used: 3/8 = 37.5 % < 40 %. Removing one puts 3
	// cores on 4 = 75 % ≤ 80 %, and the moved 1.5-core task fits in 2.5 free cores: accepted.
	// With 1.7 used each: 3.4/8 = 42.5 % ≥ 40 %: no scale-down at all. With thresholds 70/40
	// and 1.5 used each: after the removal 75 % > 70 % → refused (no flapping).
	mk := func(used float64) *mesos.Snapshot {
		return snapshot(uniform(2, cpuMem(4, 8192), ta{app: "/a", res: cpuMem(used, 100)})...)
	}
	cfg := baseConfig()
	cfg.MinNodes = 1
	d := Plan(Input{Config: cfg, Snapshot: mk(1.5), Now: now})
	if d.Direction != ScaleDown || len(d.ScaleDownAgents) != 1 {
		t.Errorf("1.5 used, 80%%: %s %v, want one removal", d.Direction, d.ScaleDownAgents)
	}
	d = Plan(Input{Config: cfg, Snapshot: mk(1.7), Now: now})
	if d.Direction != NoChange || has(d, ReasonUtilizationLow) {
		t.Errorf("42.5%%: %s %v, want NoChange without UtilizationLow", d.Direction, reasons(d))
	}
	cfg.ScaleUpPercent = 70
	d = Plan(Input{Config: cfg, Snapshot: mk(1.5), Now: now})
	if d.Direction != NoChange || !has(d, ReasonScaleDownBlocked) {
		t.Errorf("70%% threshold: %s %v, want NoChange with ScaleDownBlocked", d.Direction, reasons(d))
	}
}

func TestPlanScaleDownTasksMustFit(t *testing.T) {
	// 3 agents of 4 cores with one 3-core task each (9/12 = 75 %) plus 3 empty agents:
	// 9/24 = 37.5 %. Empty agents go first; after removing 2 of them cpus are 9/16 = 56 %:
	// the threshold check (before < 40 %) stops further removal. Tasks never had to move.
	agents := uniform(6, cpuMem(4, 8192))
	for i := 0; i < 3; i++ {
		agents[i].tasks = []ta{{app: "/big", res: cpuMem(3, 100)}}
	}
	cfg := baseConfig()
	cfg.ScaleDownMaxStep = 0
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	// Before 1st: 9/24 = 37.5 % ok, after 9/20 = 45 % ok. Before 2nd: 45 % ≥ 40 % → stop.
	if want := []string{"a003"}; !reflect.DeepEqual(d.ScaleDownAgents, want) {
		t.Fatalf("victims %v, want %v; %v", d.ScaleDownAgents, want, d.Reasons)
	}

	// 4 agents of 4 cores, one 2-core task each: 8/16 = 50 %, thresholds 60/95. 1st removal
	// (a000): before 50 % < 60 %, after 8/12 = 66.7 % ≤ 95 %, and its task fits in a001's 2
	// free cores: accepted. 2nd: before 66.7 % ≥ 60 % → stop. Removals count cumulatively.
	agents = uniform(4, cpuMem(4, 8192), ta{app: "/two", res: cpuMem(2, 100)})
	cfg = baseConfig()
	cfg.ScaleDownPercent, cfg.ScaleUpPercent = 60, 95
	cfg.ScaleDownMaxStep = 0
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if want := []string{"a000"}; !reflect.DeepEqual(d.ScaleDownAgents, want) {
		t.Fatalf("victims %v, want %v; %v", d.ScaleDownAgents, want, d.Reasons)
	}

	// Tasks that cannot move block the removal: 2 agents of 4 cores / 1000 MiB with one
	// task of 1 core / 600 MiB each, only cpus counted: 2/8 = 25 % < 40 %, after 2/4 = 50 %,
	// but the moved task needs 600 MiB and the other agent has 400 MiB free: refused.
	agents = uniform(2, cpuMem(4, 1000), ta{app: "/m", res: cpuMem(1, 600)})
	cfg = baseConfig()
	cfg.Resources = []mesos.ResourceName{mesos.ResourceCPUs}
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if d.Direction != NoChange || !has(d, ReasonScaleDownBlocked) {
		t.Fatalf("%s %v %v, want NoChange with ScaleDownBlocked", d.Direction, d.ScaleDownAgents, reasons(d))
	}
}

func TestPlanStabilization(t *testing.T) {
	agents := uniform(4, cpuMem(4, 8192))
	cfg := baseConfig()
	cfg.ScaleDownStabilization = 600 * time.Second
	snap := snapshot(agents...)

	// First sight: recommended, not acted on; memory remembers since when.
	d := Plan(Input{Config: cfg, Snapshot: snap, Now: now})
	if d.Direction != NoChange || !has(d, ReasonScaleDownStabilizing) || !d.Memory.ScaleDownSince.Equal(now) {
		t.Fatalf("first: %s %v since=%v", d.Direction, reasons(d), d.Memory.ScaleDownSince)
	}
	// 599 s later: still waiting.
	d = Plan(Input{Config: cfg, Snapshot: snap, Memory: d.Memory, Now: now.Add(599 * time.Second)})
	if d.Direction != NoChange {
		t.Fatalf("599 s: %s", d.Direction)
	}
	// 600 s later: acted on.
	d = Plan(Input{Config: cfg, Snapshot: snap, Memory: d.Memory, Now: now.Add(600 * time.Second)})
	if d.Direction != ScaleDown || len(d.ScaleDownAgents) != 1 {
		t.Fatalf("600 s: %s %v", d.Direction, d.ScaleDownAgents)
	}
	// Load returns: memory is cleared.
	busy := snapshot(uniform(4, cpuMem(4, 8192), ta{app: "/w", res: cpuMem(3.9, 100)})...)
	d = Plan(Input{Config: cfg, Snapshot: busy, Memory: d.Memory, Now: now.Add(601 * time.Second)})
	if !d.Memory.ScaleDownSince.IsZero() {
		t.Fatalf("memory not cleared: %v", d.Memory.ScaleDownSince)
	}
}

func TestPlanCooldownAndStep(t *testing.T) {
	agents := uniform(100, cpuMem(1, 1000), ta{app: "/web", res: cpuMem(0.9, 100)})
	cfg := baseConfig()
	cfg.ScaleUpCooldown = 300 * time.Second
	cfg.ScaleUpMaxStep = 5
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Memory: Memory{LastScaleUp: now.Add(-299 * time.Second)}, Now: now})
	if d.Direction != NoChange || !has(d, ReasonScaleUpCooldown) {
		t.Fatalf("in cooldown: %s %v", d.Direction, reasons(d))
	}
	// After the cooldown: 13 needed, 5 per step → 105.
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Memory: Memory{LastScaleUp: now.Add(-300 * time.Second)}, Now: now})
	if d.DesiredCapacity != 105 || !has(d, ReasonScaleUpStepLimited) || !d.Memory.LastScaleUp.Equal(now) {
		t.Fatalf("after cooldown: →%d %v last=%v", d.DesiredCapacity, reasons(d), d.Memory.LastScaleUp)
	}
}

func TestPlanBelowMinimumAndNoAgents(t *testing.T) {
	cfg := baseConfig()
	cfg.MinNodes = 3
	// 2 agents at 50 %: nothing asks for growth but the minimum is 3.
	agents := uniform(2, cpuMem(4, 4096), ta{app: "/w", res: cpuMem(2, 2048)})
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if d.Direction != ScaleUp || d.DesiredCapacity != 3 || !has(d, ReasonBelowMinimum) {
		t.Fatalf("%s →%d %v", d.Direction, d.DesiredCapacity, reasons(d))
	}
	// No pool agent (the selector matches nothing): no growth from nothing, a reason says so.
	cfg.MinNodes = 0
	cfg.AgentSelector = map[string]string{"pool": "gpu"}
	d = Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	if d.PoolAgents != 0 || d.Direction != NoChange || !has(d, ReasonNoPoolAgents) {
		t.Fatalf("%d agents %s %v", d.PoolAgents, d.Direction, reasons(d))
	}
}

func TestPlanSelectorAndMatching(t *testing.T) {
	// Four agents: two with pool=general (10.0.0.1, 10.0.0.2), one pool=batch, one general
	// agent whose address belongs to no instance of the group. Only 10.0.0.1 and 10.0.0.2
	// are counted; the unmatched general agent is reported.
	agents := []tagent{
		{id: "g1", ip: "10.0.0.1", total: cpuMem(4, 4096), attrs: map[string]string{"pool": "general"}},
		{id: "g2", ip: "10.0.0.2", total: cpuMem(4, 4096), attrs: map[string]string{"pool": "general"}},
		{id: "b1", ip: "10.0.0.3", total: cpuMem(16, 4096), attrs: map[string]string{"pool": "batch"}},
		{id: "g9", ip: "10.9.9.9", total: cpuMem(4, 4096), attrs: map[string]string{"pool": "general"}},
	}
	g := &cloud.Group{Name: "general", MinSize: 0, MaxSize: 10, DesiredCapacity: 2, Instances: []cloud.Instance{
		{ID: "i-1", LifecycleState: "InService", PrivateIP: "10.0.0.1", HealthStatus: "Healthy"},
		{ID: "i-2", LifecycleState: "InService", PrivateIP: "10.0.0.2", HealthStatus: "Healthy", ProtectedFromScaleIn: true},
	}}
	cfg := baseConfig()
	cfg.AgentSelector = map[string]string{"pool": "general"}
	cfg.MinNodes = 0
	d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Group: g, Now: now})
	if d.PoolAgents != 2 || d.Utilization[0].Total != 8 || !has(d, ReasonUnmatchedAgents) {
		t.Fatalf("pool=%d total=%v %v", d.PoolAgents, d.Utilization[0].Total, reasons(d))
	}
	// Both idle: scale-down picks g1, never the scale-in-protected g2.
	if d.Direction != ScaleDown || !reflect.DeepEqual(d.ScaleDownAgents, []string{"g1"}) || d.DesiredCapacity != 1 {
		t.Fatalf("%s %v →%d", d.Direction, d.ScaleDownAgents, d.DesiredCapacity)
	}
	if !reflect.DeepEqual(d.ScaleDownInstances, []string{"i-1"}) {
		t.Errorf("instances %v, want [i-1]", d.ScaleDownInstances)
	}
}

func TestPlanDeterministic(t *testing.T) {
	agents := uniform(50, cpuMem(8, 16384), ta{app: "/a", res: cpuMem(1, 1000)}, ta{app: "/b", res: cpuMem(0.5, 3000)})
	cfg := baseConfig()
	cfg.HeadroomPercent = 20
	cfg.ScaleDownMaxStep = 0
	first := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now})
	for i := 0; i < 20; i++ {
		if d := Plan(Input{Config: cfg, Snapshot: snapshot(agents...), Now: now}); !reflect.DeepEqual(d, first) {
			t.Fatalf("run %d differs:\n%+v\n%+v", i, d, first)
		}
	}
}
