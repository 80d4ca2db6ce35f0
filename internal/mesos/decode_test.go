package mesos

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// realCaptures holds the captured /master/state files described in shared/fixtures/SOURCES.md.
// Point it elsewhere (go test -args -fixtures=/nowhere) to check that the suite still passes
// without them.
var realCaptures = flag.String("fixtures", "../../../shared/fixtures/master-state",
	"directory of captured GET /master/state files")

func captureDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(*realCaptures); err != nil {
		t.Skip("../shared/fixtures not found; real-capture tests skipped")
	}
	return *realCaptures
}

func decodeCapture(t *testing.T, name string) *Snapshot {
	t.Helper()
	s, err := DecodeStateFile(filepath.Join(captureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeTestdata(t *testing.T, name string) *Snapshot {
	t.Helper()
	s, err := DecodeStateFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeString(t *testing.T, doc string) *Snapshot {
	t.Helper()
	s, err := DecodeState(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func findApp(t testing.TB, s *Snapshot, id string) Application {
	t.Helper()
	for _, a := range s.Applications {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no application %q", id)
	return Application{}
}

func findAgent(t testing.TB, s *Snapshot, idSuffix string) Agent {
	t.Helper()
	for _, a := range s.Agents {
		if strings.HasSuffix(a.ID, idSuffix) {
			return a
		}
	}
	t.Fatalf("no agent with id ending in %q", idSuffix)
	return Agent{}
}

// captureCase holds the numbers expected from one captured state.
type captureCase struct {
	file                string
	version             string
	agents              int
	totalCPUs, totalMem float64 // Σ agent "resources": cores, MiB
	usedCPUs, usedMem   float64 // Σ agent "used_resources" (or of live tasks before 0.23)
	liveTasks           int
	unreachableTasks    int
	unreachableAgents   int
	recoveredAgents     int
	frameworks          int
	applications        int
	instances           map[string]int // live tasks of a few applications
	agentTasks          map[string]int // live tasks per agent, by agent id suffix
}

// TestDecodeStateRealCaptures decodes every captured state and checks the cluster's totals,
// worked out by hand from the files (and double-checked with python3). None of the captures has
// "unreachable_tasks", "unreachable_slaves" or recovered agents, so those counts are 0 here;
// TestDecodeStateMesos19 covers them.
func TestDecodeStateRealCaptures(t *testing.T) {
	dir := captureDir(t)
	tests := []captureCase{
		{
			file:    "mesos-0.19.0-mesoscli-marathon06.json",
			version: "0.19.0",
			// 2 agents × 2 cpus, 2 × 1000 MiB.
			agents: 2, totalCPUs: 4, totalMem: 2000,
			// No used_resources before 0.23: Σ of the 2 RUNNING tasks, 2 × 0.1 cpus, 2 × 16 MiB.
			usedCPUs: 0.2, usedMem: 32,
			// 13 completed tasks (9 KILLED, 4 LOST) are history.
			liveTasks: 2, frameworks: 1, applications: 2,
			// Marathon 0.6 ids "app-15.<uuid>"; the task name repeats the id.
			instances:  map[string]int{"/app-15": 1, "/app-215": 1},
			agentTasks: map[string]int{"6160-0": 0, "1196-0": 2},
		},
		{
			file:    "mesos-0.19.1-mesosdns-fake-edited.json",
			version: "0.19.1",
			// 4 agents × 8 cpus; 30844 + 3 × 31016 MiB.
			agents: 4, totalCPUs: 32, totalMem: 123892,
			// Σ live tasks: 3.2 + 1.1 + 1 cpus, 3585 + 1152 + 1024 MiB.
			usedCPUs: 5.3, usedMem: 5761,
			// 10 tasks listed: poseidon is TASK_KILLED, liquor-store.b8db9f73 is listed twice.
			liveTasks: 8, frameworks: 4, applications: 7,
			instances: map[string]int{
				"/liquor-store": 2, "/car-store": 1, "/chronos": 1,
				"chronos with a space AND MIXED CASE-2.0.1/some-box": 1,
				"ipv6-framework/toy-store":                           1,
			},
			agentTasks: map[string]int{"4798-2": 0, "2410-0": 5, "2116-1": 2, "2116-3": 1},
		},
		{
			file:    "mesos-0.23.0-dcosui-1agent-completed-tasks.json",
			version: "0.23.0",
			agents:  1, totalCPUs: 4, totalMem: 2933,
			usedCPUs: 0.1, usedMem: 16,
			// 1 RUNNING, 22 FINISHED completed.
			liveTasks: 1, frameworks: 1, applications: 1,
			instances: map[string]int{"/sleep": 1},
		},
		{
			file:    "mesos-0.25.0-1agent-no-agent-version.json",
			version: "0.25.0",
			agents:  1, totalCPUs: 8, totalMem: 15360,
			// 4 tasks × 0.1 cpus, × 16 MiB.
			usedCPUs: 0.4, usedMem: 64,
			liveTasks: 4, frameworks: 1, applications: 2,
			instances: map[string]int{"/greg": 2, "/tyler": 2},
		},
		{
			file:    "mesos-0.27.0-dcosui-6agents-reservations.json",
			version: "0.27.0",
			// 6 agents × 4 cpus, × 14019 MiB.
			agents: 6, totalCPUs: 24, totalMem: 84114,
			// Three cassandra agents use 1 cpu, 4864 MiB each (reserved, executor included), the
			// marathon one 0.5 cpu, 2048 MiB.
			usedCPUs: 3.5, usedMem: 16640,
			liveTasks: 4, frameworks: 2, applications: 4,
			instances:  map[string]int{"/cassandra": 1, "cassandra/server-0": 1, "cassandra/server-2": 1},
			agentTasks: map[string]int{"S0": 1, "S1": 0, "S2": 1, "S3": 0, "S4": 1, "S5": 1},
		},
		{
			file:    "mesos-0.27.0-gaal-102tasks-1000completed.json",
			version: "0.27.0",
			// 3 agents × 24 cpus = 72, × 95488 MiB = 286464.
			agents: 3, totalCPUs: 72, totalMem: 286464,
			// 0 + 0.0999999999999994 + 12 cpus; 0 + 64 + 13824 MiB.
			usedCPUs: 12.1, usedMem: 13888,
			// 102 RUNNING; the 1000 completed tasks are skipped.
			liveTasks: 102, frameworks: 2, applications: 3,
			instances:  map[string]int{"/app1": 100, "/marathon-alice": 1, "/ping-as-a-service": 1},
			agentTasks: map[string]int{"S76045": 0, "S76043": 1, "S76044": 101},
		},
		{
			file:    "mesos-0.29.0-overlay-mesos-execute.json",
			version: "0.29.0",
			agents:  2, totalCPUs: 8, totalMem: 28036,
			// dog and cat: 4 cpus, 512 MiB each.
			usedCPUs: 8, usedMem: 1024,
			liveTasks: 2, frameworks: 3, applications: 2,
			instances: map[string]int{"mesos-execute instance/dog": 1, "mesos-execute instance/cat": 1},
		},
		{
			file:    "mesos-1.0.0-calico-etcd-marathon-metronome.json",
			version: "1.0.0",
			agents:  2, totalCPUs: 4, totalMem: 1838,
			usedCPUs: 1.2, usedMem: 736,
			// calico 6 (each its own task name), etcd 1 (id with spaces), marathon 3.
			liveTasks: 10, frameworks: 4, applications: 10,
			instances: map[string]int{
				"etcd/etcd-server": 1, "/test-mesos-cni": 1, "/calico": 1, "/etcd": 1,
				"calico/Task(RunCalicoNode-B3213DE4-9AA5-4DF2-8FCD-3AC63C9C9209)": 1,
			},
			agentTasks: map[string]int{"S1": 7, "S0": 3},
		},
		{
			file:    "mesos-1.2.0-dcosui-kafka-marathon-metronome.json",
			version: "1.2.0",
			agents:  2, totalCPUs: 8, totalMem: 28036,
			// used_resources of S1 (2.51 cpus, 3822 MiB) exceeds its tasks' 2.01 / 3566: executors.
			usedCPUs: 2.51, usedMem: 3822,
			liveTasks: 3, frameworks: 3, applications: 3,
			instances:  map[string]int{"/confluent-kafka": 1, "/no-healthcheck": 1, "confluent-kafka/broker-0": 1},
			agentTasks: map[string]int{"S1": 3, "S0": 0},
		},
	}

	// Every captured file must have a row.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.ContainsFunc(tests, func(tc captureCase) bool { return tc.file == e.Name() }) {
			t.Errorf("%s has no expected values in this test", e.Name())
		}
	}

	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			s := decodeCapture(t, tc.file)
			if s.Version != tc.version {
				t.Errorf("Version = %q, want %q", s.Version, tc.version)
			}
			if s.Leader == "" || !strings.HasPrefix(s.Leader, "master@") {
				t.Errorf("Leader = %q, want a master pid", s.Leader)
			}
			var total, used Resources
			for _, a := range s.Agents {
				total = total.Add(a.Total)
				used = used.Add(a.Used)
			}
			if len(s.Agents) != tc.agents {
				t.Errorf("%d agents, want %d", len(s.Agents), tc.agents)
			}
			if !approx(total.CPUs, tc.totalCPUs) || !approx(total.Mem, tc.totalMem) {
				t.Errorf("Σ total = %v cpus, %v MiB; want %v, %v", total.CPUs, total.Mem, tc.totalCPUs, tc.totalMem)
			}
			if !approx(used.CPUs, tc.usedCPUs) || !approx(used.Mem, tc.usedMem) {
				t.Errorf("Σ used = %v cpus, %v MiB; want %v, %v", used.CPUs, used.Mem, tc.usedCPUs, tc.usedMem)
			}
			if len(s.Tasks) != tc.liveTasks {
				t.Errorf("%d live tasks, want %d", len(s.Tasks), tc.liveTasks)
			}
			if s.UnreachableTasks != tc.unreachableTasks || s.UnreachableAgents != tc.unreachableAgents || s.RecoveredAgents != tc.recoveredAgents {
				t.Errorf("unreachable tasks %d, unreachable agents %d, recovered agents %d; want %d, %d, %d",
					s.UnreachableTasks, s.UnreachableAgents, s.RecoveredAgents, tc.unreachableTasks, tc.unreachableAgents, tc.recoveredAgents)
			}
			if len(s.Frameworks) != tc.frameworks {
				t.Errorf("%d frameworks, want %d", len(s.Frameworks), tc.frameworks)
			}
			if len(s.Applications) != tc.applications {
				t.Errorf("%d applications, want %d", len(s.Applications), tc.applications)
			}
			for id, n := range tc.instances {
				if got := findApp(t, s, id).Instances; got != n {
					t.Errorf("%s has %d instances, want %d", id, got, n)
				}
			}
			for suffix, n := range tc.agentTasks {
				if got := findAgent(t, s, suffix).TaskCount; got != n {
					t.Errorf("agent …%s has %d tasks, want %d", suffix, got, n)
				}
			}
			checkInvariants(t, s)
		})
	}
}

// checkInvariants checks what every Snapshot promises whatever the input.
func checkInvariants(t *testing.T, s *Snapshot) {
	t.Helper()
	if !slices.IsSortedFunc(s.Applications, func(a, b Application) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.FrameworkID, b.FrameworkID)
	}) {
		t.Error("applications are not sorted by id")
	}
	instances := make([]int, len(s.Applications))
	tasksOn := make([]int, len(s.Agents))
	for _, task := range s.Tasks {
		if task.AppIndex < 0 || int(task.AppIndex) >= len(s.Applications) {
			t.Fatalf("task AppIndex %d out of range", task.AppIndex)
		}
		instances[task.AppIndex]++
		if task.AgentIndex >= 0 {
			tasksOn[task.AgentIndex]++
		}
		if !isLive(task.State) {
			t.Errorf("task in state %s kept as live", task.State)
		}
	}
	for i, a := range s.Applications {
		n := 0
		for j, sh := range a.Shapes {
			n += sh.Count
			if j > 0 && compareShapes(a.Shapes[j-1], sh) > 0 {
				t.Errorf("%s: shapes not largest first: %v", a.ID, a.Shapes)
			}
		}
		if a.Instances != instances[i] || n != a.Instances {
			t.Errorf("%s: Instances %d, shapes count %d, tasks %d", a.ID, a.Instances, n, instances[i])
		}
	}
	for i, a := range s.Agents {
		if a.TaskCount != tasksOn[i] {
			t.Errorf("agent %s: TaskCount %d, tasks pointing at it %d", a.ID, a.TaskCount, tasksOn[i])
		}
	}
}

// The mesos-dns fake was hand-edited to hold the odd cases.
func TestDecodeStateMesosDNSEdgeCases(t *testing.T) {
	s := decodeCapture(t, "mesos-0.19.1-mesosdns-fake-edited.json")

	ipv6 := findAgent(t, s, "2116-3") // pid "slave(1)@[2001:db8::1]:5051"
	if ipv6.IP != "2001:db8::1" || ipv6.Port != 5051 {
		t.Errorf("IPv6 agent address %q port %d, want 2001:db8::1 and 5051", ipv6.IP, ipv6.Port)
	}
	if a := findAgent(t, s, "2410-0"); a.IP != "1.2.3.11" || !a.Active || a.Attributes["host"] != "dev-123-1e.c.mesos.internal" {
		t.Errorf("agent 2410-0 = %+v, want IP 1.2.3.11, active (no field), host attribute", a)
	}
	// The framework without a pid (HTTP API) is registered like the others.
	if !slices.ContainsFunc(s.Frameworks, func(f Framework) bool { return f.Name == "no pid" && f.Active }) {
		t.Errorf("framework %q missing: %+v", "no pid", s.Frameworks)
	}
	// liquor-store.b8db9f73 is listed twice (names "liquor.store" and "big.dog2"): once;
	// liquor-store.b71166c1 is the second instance.
	if app := findApp(t, s, "/liquor-store"); app.Instances != 2 || app.Shapes[0].Resources != (Resources{CPUs: 1, Mem: 1024}) {
		t.Errorf("/liquor-store = %+v, want 2 tasks of 1 cpu, 1024 MiB", app)
	}
	// poseidon is TASK_KILLED in "tasks": not live, no application.
	for _, a := range s.Applications {
		if strings.Contains(a.ID, "poseidon") {
			t.Errorf("application %s from a TASK_KILLED task", a.ID)
		}
	}
	if fw := s.Frameworks[3]; fw.Name != "marathon" || !fw.IsMarathon || fw.Role != "*" {
		t.Errorf("frameworks[3] = %+v, want marathon, role *", fw)
	}
}

// The gaal capture is a production cluster with the full 1000-task history and float noise.
func TestDecodeStateGaalHistoryAndFloatNoise(t *testing.T) {
	s := decodeCapture(t, "mesos-0.27.0-gaal-102tasks-1000completed.json")
	a := findAgent(t, s, "S76043")
	// The master sums doubles: 0.0999999999999994 is its 0.1 cpus.
	if a.Used.CPUs != 0.0999999999999994 || math.Abs(a.Used.CPUs-0.1) > Epsilon {
		t.Errorf("S76043 used cpus = %v, want 0.0999999999999994 (0.1 within Epsilon)", a.Used.CPUs)
	}
	// The public agent is all reserved to slave_public: nothing unreserved.
	pub := findAgent(t, s, "S76045")
	if pub.Attributes["public_ip"] != "true" || !pub.Unreserved.IsZero() ||
		pub.Reserved["slave_public"] != (Resources{CPUs: 24, Mem: 95488, Disk: 34123}) {
		t.Errorf("public agent = %+v, want all 24 cpus, 95488 MiB reserved to slave_public", pub)
	}
	for _, task := range s.Tasks {
		if task.State != "TASK_RUNNING" {
			t.Errorf("live task in state %s: completed tasks must be skipped", task.State)
		}
	}
	// marathon-alice is a Marathon too (idle); its own app /marathon-alice runs on marathon.
	if fw := s.Frameworks[0]; fw.Name != "marathon-alice" || !fw.IsMarathon {
		t.Errorf("frameworks[0] = %+v, want marathon-alice recognized as Marathon", fw)
	}
	if app := findApp(t, s, "/app1"); app.Role != "slave_public" || app.FrameworkName != "marathon" ||
		len(app.Shapes) != 1 || app.Shapes[0] != (Shape{Resources: Resources{CPUs: 0.1, Mem: 128}, Count: 100}) {
		t.Errorf("/app1 = %+v, want 100 tasks of 0.1 cpus, 128 MiB, role slave_public", app)
	}
}

func TestDecodeStateReservations(t *testing.T) {
	s := decodeCapture(t, "mesos-0.27.0-dcosui-6agents-reservations.json")
	cassandra := Resources{CPUs: 1, Mem: 4864, Disk: 9216}
	tests := []struct {
		agent      string
		reserved   map[string]Resources
		unreserved Resources
	}{
		// Dynamic reservation for cassandra_role: 4 - 1 cpus, 14019 - 4864 MiB, 32541 - 9216 MiB disk.
		{"S2", map[string]Resources{"cassandra_role": cassandra}, Resources{CPUs: 3, Mem: 9155, Disk: 23325}},
		{"S4", map[string]Resources{"cassandra_role": cassandra}, Resources{CPUs: 3, Mem: 9155, Disk: 23325}},
		{"S5", map[string]Resources{"cassandra_role": cassandra}, Resources{CPUs: 3, Mem: 9155, Disk: 23325}},
		// The public agent: everything statically reserved to slave_public.
		{"S1", map[string]Resources{"slave_public": {CPUs: 4, Mem: 14019, Disk: 32541}}, Resources{}},
		{"S0", nil, Resources{CPUs: 4, Mem: 14019, Disk: 32541}},
		{"S3", nil, Resources{CPUs: 4, Mem: 14019, Disk: 32541}},
	}
	for _, tc := range tests {
		a := findAgent(t, s, tc.agent)
		if len(a.Reserved) != len(tc.reserved) {
			t.Errorf("%s reserved = %v, want %v", tc.agent, a.Reserved, tc.reserved)
		}
		for role, r := range tc.reserved {
			if a.Reserved[role] != r {
				t.Errorf("%s reserved[%s] = %+v, want %+v", tc.agent, role, a.Reserved[role], r)
			}
		}
		if a.Unreserved != tc.unreserved {
			t.Errorf("%s unreserved = %+v, want %+v", tc.agent, a.Unreserved, tc.unreserved)
		}
	}
	if app := findApp(t, s, "cassandra/server-1"); app.Role != "cassandra_role" || app.FrameworkName != "cassandra" {
		t.Errorf("cassandra/server-1 = %+v, want role cassandra_role", app)
	}
}

func TestDecodeStateUsedIncludesExecutors(t *testing.T) {
	s := decodeCapture(t, "mesos-1.2.0-dcosui-kafka-marathon-metronome.json")
	a := findAgent(t, s, "S1")
	var tasks Resources
	for _, task := range s.Tasks {
		if s.Agents[task.AgentIndex].ID == a.ID {
			tasks = tasks.Add(task.Resources)
		}
	}
	// broker-0 1 cpu + confluent-kafka 1 + no-healthcheck 0.01 = 2.01 cpus; 2304 + 1230 + 32 MiB.
	if !approx(tasks.CPUs, 2.01) || tasks.Mem != 3566 {
		t.Errorf("Σ tasks on S1 = %+v, want 2.01 cpus, 3566 MiB", tasks)
	}
	// used_resources is what the planner needs: it includes the executors.
	if a.Used.CPUs != 2.51 || a.Used.Mem != 3822 || a.Used.Disk != 5000 {
		t.Errorf("S1 used = %+v, want the master's 2.51 cpus, 3822 MiB, 5000 MiB disk", a.Used)
	}
	if a.Reserved["confluent-kafka-role"] != (Resources{CPUs: 1.5, Mem: 2560, Disk: 5000}) ||
		a.Unreserved != (Resources{CPUs: 2.5, Mem: 11458, Disk: 30577}) {
		t.Errorf("S1 reserved %v, unreserved %+v", a.Reserved, a.Unreserved)
	}
}

func TestDecodeStateOldMasterWithoutUsedResources(t *testing.T) {
	s := decodeCapture(t, "mesos-0.19.0-mesoscli-marathon06.json")
	a := findAgent(t, s, "1196-0")
	// No "active" field: active. No used_resources: the two tasks' 0.1 cpus, 16 MiB each.
	if !a.Active || a.Used != (Resources{CPUs: 0.2, Mem: 32}) {
		t.Errorf("agent 1196-0 active=%v used=%+v, want active, 0.2 cpus, 32 MiB", a.Active, a.Used)
	}
	// No unreserved_resources nor reservations: all of Total.
	if a.Unreserved != a.Total || a.Total != (Resources{CPUs: 2, Mem: 1000, Disk: 34068}) {
		t.Errorf("agent 1196-0 total %+v, unreserved %+v", a.Total, a.Unreserved)
	}
	if idle := findAgent(t, s, "6160-0"); idle.Used != (Resources{}) || idle.Port != 5052 {
		t.Errorf("idle agent used %+v port %d, want nothing used, port 5052", idle.Used, idle.Port)
	}
}

// testdata/mesos-1.9.0-drain-multirole-unreachable.json is written for this test in the shape
// of a Mesos 1.9 master's state.
func TestDecodeStateMesos19(t *testing.T) {
	s := decodeTestdata(t, "mesos-1.9.0-drain-multirole-unreachable.json")
	checkInvariants(t, s)

	tests := []struct {
		agent            string
		active, draining bool
		tasks            int
		unreachableTasks int
		used             Resources
	}{
		{"S0", true, false, 3, 0, Resources{CPUs: 2.6, Mem: 1312}},
		{"S1", true, true, 1, 0, Resources{CPUs: 1.1, Mem: 544}},  // drain_info DRAINING
		{"S2", true, true, 0, 0, Resources{}},                     // drain_info DRAINED
		{"S3", false, true, 1, 1, Resources{CPUs: 0.5, Mem: 256}}, // deactivated, no drain_info
	}
	for _, tc := range tests {
		a := findAgent(t, s, tc.agent)
		if a.Active != tc.active || a.Draining != tc.draining || a.TaskCount != tc.tasks ||
			a.UnreachableTaskCount != tc.unreachableTasks || a.Used != tc.used {
			t.Errorf("%s = active %v draining %v tasks %d unreachable %d used %+v; want %v %v %d %d %+v", tc.agent,
				a.Active, a.Draining, a.TaskCount, a.UnreachableTaskCount, a.Used,
				tc.active, tc.draining, tc.tasks, tc.unreachableTasks, tc.used)
		}
	}

	// marathon lists 6 tasks: 2 RUNNING + 1 STAGING of /web/nginx, 1 KILLING of /api, 1 RUNNING
	// of the pod /db/pg (on S9, not registered), 1 FAILED; hello-world 1. So 6 live.
	if len(s.Tasks) != 6 {
		t.Errorf("%d live tasks, want 6", len(s.Tasks))
	}
	// unreachable_tasks: 3 listed, one twice → 2; one on S3, one on the unregistered S5.
	if s.UnreachableTasks != 2 || s.UnreachableAgents != 1 || s.RecoveredAgents != 1 {
		t.Errorf("unreachable tasks %d, unreachable agents %d, recovered %d; want 2, 1, 1",
			s.UnreachableTasks, s.UnreachableAgents, s.RecoveredAgents)
	}
	nginx := findApp(t, s, "/web/nginx")
	wantShapes := []Shape{{Resources{CPUs: 1, Mem: 512}, 2}, {Resources{CPUs: 0.1, Mem: 1024}, 1}}
	if nginx.Instances != 3 || !slices.Equal(nginx.Shapes, wantShapes) {
		t.Errorf("/web/nginx = %+v, want 3 instances, shapes %v", nginx, wantShapes)
	}
	pg := findApp(t, s, "/db/pg")
	for _, task := range s.Tasks {
		if s.Applications[task.AppIndex].ID == pg.ID && task.AgentIndex != -1 {
			t.Errorf("/db/pg task AgentIndex = %d, want -1 (agent S9 not registered)", task.AgentIndex)
		}
	}
	if api := findApp(t, s, "/api"); api.Instances != 1 {
		t.Errorf("/api has %d instances, want 1 (TASK_KILLING is live)", api.Instances)
	}
	hello := findApp(t, s, "hello-world/hello-0-server")
	if hello.Role != "hello-world-role" {
		t.Errorf("hello-0-server role %q, want the task's hello-world-role", hello.Role)
	}
	fw := s.Frameworks[1]
	if fw.Role != "hello-world-role" || !slices.Equal(fw.Roles, []string{"hello-world-role", "slave_public"}) || fw.IsMarathon {
		t.Errorf("hello-world framework = %+v, want roles [hello-world-role slave_public]", fw)
	}
	attrs := findAgent(t, s, "S0").Attributes
	want := map[string]string{"rack": "r1", "az_index": "2", "weight": "1.5", "racks": "[1-3,7-7]", "tags": "{ssd,gpu}"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	if s3 := findAgent(t, s, "S3"); s3.Reserved["hello-world-role"] != (Resources{CPUs: 2, Mem: 4096, Disk: 1000}) ||
		s3.Unreserved != (Resources{CPUs: 6, Mem: 25904, Disk: 34577}) {
		t.Errorf("S3 reserved %v unreserved %+v", s3.Reserved, s3.Unreserved)
	}
	if s.Cluster != "lambdascale-test" || s.Leader != "master@10.0.4.10:5050" {
		t.Errorf("cluster %q leader %q", s.Cluster, s.Leader)
	}
}

func TestDecodeStateZeroAgents(t *testing.T) {
	s := decodeTestdata(t, "mesos-1.4.1-zero-agents.json")
	// Valid, and distinguishable from a failure: no error, no agents, the frameworks known.
	if s.Agents == nil || len(s.Agents) != 0 || len(s.Frameworks) != 1 || len(s.Tasks) != 0 {
		t.Errorf("agents %v, %d frameworks, %d tasks; want an empty non-nil agent list, 1 framework", s.Agents, len(s.Frameworks), len(s.Tasks))
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		file    string // in testdata, or
		doc     string
		want    string // in the message
		wantErr error  // errors.Is, when set
	}{
		{name: "standby before 1.0", file: "mesos-0.28.2-standby.json",
			want: "master master@10.0.0.5:5050 is not the leader (it reports leader master@10.0.0.6:5050)"},
		{name: "truncated", file: "mesos-1.9.0-truncated.json", want: "unexpected EOF"},
		{name: "JSON array", file: "array.json", want: "top-level value is array", wantErr: ErrNotMasterState},
		{name: "binary", file: "binary.gz", want: "invalid character"},
		{name: "empty", doc: "", want: "empty document", wantErr: ErrNotMasterState},
		{name: "null", doc: "null", want: "top-level value is null", wantErr: ErrNotMasterState},
		{name: "neither slaves nor frameworks", doc: `{"version": "1.2.0", "pid": "master@a:5050"}`,
			want: `no "slaves" nor "frameworks"`, wantErr: ErrNotMasterState},
		{name: "operator API response", doc: `{"type": "GET_STATE", "get_state": {"get_agents": {"agents": []}}}`,
			want: `no "slaves" nor "frameworks"`, wantErr: ErrNotMasterState},
		{name: "cpus as a string",
			doc:  `{"slaves": [{}, {}, {}, {"id": "S3", "resources": {"cpus": "4", "mem": 100}}], "frameworks": []}`,
			want: "decoding /master/state: slaves[3].resources.cpus: expected a number, got string"},
		{name: "slaves not an array", doc: `{"slaves": {"id": "S0"}, "frameworks": []}`,
			want: "slaves: expected an array, got object"},
		{name: "task resources not an object",
			doc:  `{"slaves": [], "frameworks": [{"name": "marathon", "tasks": [{"id": "a", "resources": [1]}]}]}`,
			want: "frameworks[0].tasks[0].resources: expected an object, got array"},
		{name: "active not a boolean", doc: `{"slaves": [{"id": "S0", "active": "yes"}]}`,
			want: "slaves[0].active: expected a boolean, got string"},
		{name: "trailing data", doc: `{"slaves": [], "frameworks": []} {"slaves": []}`,
			want: "unexpected data after the state object"},
		{name: "trailing garbage", doc: `{"slaves": [], "frameworks": []} xyz`, want: "invalid character 'x'"},
		{name: "cut inside a task", doc: `{"slaves": [], "frameworks": [{"name": "marathon", "tasks": [{"id": "a.`,
			want: "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.file != "" {
				_, err = DecodeStateFile(filepath.Join("testdata", tc.file))
			} else {
				_, err = DecodeState(strings.NewReader(tc.doc))
			}
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "decoding /master/state") {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q is not %v", err, tc.wantErr)
			}
			if tc.file != "" && !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}

	_, err := DecodeStateFile(filepath.Join("testdata", "mesos-0.28.2-standby.json"))
	var standby *NotLeaderError
	if !errors.As(err, &standby) || standby.PID != "master@10.0.0.5:5050" || standby.Leader != "master@10.0.0.6:5050" {
		t.Errorf("error %v, want a *NotLeaderError naming both masters", err)
	}
}

// Captured files may have sorted keys, so a framework's name can come after its tasks, and
// "frameworks" before "slaves".
func TestDecodeStateAnyKeyOrder(t *testing.T) {
	s := decodeString(t, `{
	  "frameworks": [
	    {"tasks": [
	       {"id": "web_nginx.1f2e3d4c-b5a6-11e5-b053-002590e56e25", "name": "nginx.web", "slave_id": "S1", "state": "TASK_RUNNING", "resources": {"cpus": 0.5, "mem": 64}},
	       {"id": "web_nginx.1f2e3d4c-b5a6-11e5-b053-002590e56e25", "name": "nginx.web", "slave_id": "S1", "state": "TASK_RUNNING", "resources": {"cpus": 0.5, "mem": 64}},
	       {"id": "web_nginx.2a3b4c5d-b5a6-11e5-b053-002590e56e25", "name": "nginx.web", "slave_id": "S0", "state": "TASK_STARTING", "resources": {"cpus": 0.5, "mem": 64}},
	       {"id": "not-a-marathon-id", "name": "worker.batch", "slave_id": "S0", "state": "TASK_RUNNING", "resources": {"cpus": 2, "mem": 1024}}],
	     "name": "marathon-user", "id": "F1", "roles": ["dev"]},
	    {"tasks": [{"id": "t1", "name": "broker", "slave_id": "S0", "state": "TASK_STAGING", "resources": {"cpus": 1, "mem": 2048}}],
	     "name": "kafka", "id": "F2", "active": false}
	  ],
	  "leader": "master@10.0.0.1:5050",
	  "pid": "master@10.0.0.1:5050",
	  "slaves": [
	    {"id": "S0", "resources": {"cpus": 8, "mem": 16384}},
	    {"id": "S1", "resources": {"cpus": 8, "mem": 16384}, "reserved_resources": {"dev": {"cpus": 2, "mem": 4096}}}
	  ]
	}`)
	checkInvariants(t, s)
	// The id listed twice counts once; the unparsable Marathon id falls back on the task name,
	// which Marathon sets to the app path reversed.
	if n := findApp(t, s, "/web/nginx").Instances; n != 2 {
		t.Errorf("/web/nginx has %d instances, want 2", n)
	}
	if app := findApp(t, s, "/batch/worker"); app.Instances != 1 || app.Role != "dev" || app.FrameworkID != "F1" {
		t.Errorf("/batch/worker = %+v, want 1 instance of role dev on F1", app)
	}
	if app := findApp(t, s, "kafka/broker"); app.Instances != 1 || app.Role != "*" {
		t.Errorf("kafka/broker = %+v, want 1 instance, default role *", app)
	}
	if s.Frameworks[1].Active || !s.Frameworks[0].Active {
		t.Errorf("frameworks active = %v, %v; want true (absent), false", s.Frameworks[0].Active, s.Frameworks[1].Active)
	}
	// S0: STARTING nginx, worker, STAGING broker; S1: one nginx. Neither reports used_resources:
	// 0.5 + 2 + 1 cpus and 64 + 1024 + 2048 MiB on S0.
	if a := s.Agents[0]; a.TaskCount != 3 || a.Used != (Resources{CPUs: 3.5, Mem: 3136}) {
		t.Errorf("S0 tasks %d used %+v, want 3 tasks, 3.5 cpus, 3136 MiB", a.TaskCount, a.Used)
	}
	// S1 has no unreserved_resources: 8 - 2 cpus, 16384 - 4096 MiB.
	if a := s.Agents[1]; a.Unreserved != (Resources{CPUs: 6, Mem: 12288}) {
		t.Errorf("S1 unreserved %+v, want 6 cpus, 12288 MiB", a.Unreserved)
	}
}

func TestDecodeStateLenientValues(t *testing.T) {
	s := decodeString(t, `{
	  "version": "0.28.0", "pid": "master@m:5050", "activated_slaves": 1.0, "unreachable_slaves": 2.0,
	  "recovered_slaves": [{"id": "R1"}, {"id": "R2"}, {"id": "R3"}],
	  "slaves": [{"id": "S0", "pid": "slave(1)@10.1.2.3:5051", "attributes": {"gpu": false, "cores": 16, "note": null, "list": [1, "a"]},
	              "resources": {"cpus": 4.0, "mem": 1024.0, "ports": "[31000-32000]", "disk": null, "custom": 7}, "active": null}],
	  "frameworks": [{"name": "chronos", "id": "C", "pid": null, "role": null, "tasks": [
	    {"id": "j1", "name": "job", "slave_id": "S0", "resources": {"cpus": 1, "mem": 32}},
	    {"id": "j2", "name": "job", "slave_id": "S0", "state": "TASK_UNREACHABLE", "resources": {"cpus": 1, "mem": 32}},
	    {"id": "j3", "name": "job", "slave_id": "S0", "state": "TASK_GONE", "resources": {"cpus": 1, "mem": 32}}]},
	  {"name": "batch", "id": "B", "tasks": [
	    {"id": "b1", "state": "TASK_RUNNING", "resources": {"cpus": 1}},
	    {"state": "TASK_RUNNING", "resources": {"cpus": 1}}]}]
	}`)
	a := s.Agents[0]
	if a.IP != "10.1.2.3" || a.Port != 5051 || !a.Active || a.Total != (Resources{CPUs: 4, Mem: 1024}) {
		t.Errorf("agent = %+v", a)
	}
	wantAttrs := map[string]string{"gpu": "false", "cores": "16", "note": "", "list": `[1,"a"]`}
	for k, v := range wantAttrs {
		if a.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, a.Attributes[k], v)
		}
	}
	// No "leader" field: the answering master leads. Counts as floats and as arrays.
	if s.Leader != "master@m:5050" || s.UnreachableAgents != 2 || s.RecoveredAgents != 3 {
		t.Errorf("leader %q, unreachable agents %d, recovered %d", s.Leader, s.UnreachableAgents, s.RecoveredAgents)
	}
	// j1 has no state: it holds resources, so it is live; j2 is unreachable; j3 is gone. The two
	// batch tasks have no agent.
	if len(s.Tasks) != 3 || s.UnreachableTasks != 1 || a.UnreachableTaskCount != 1 || a.TaskCount != 1 {
		t.Errorf("%d live, %d unreachable, S0 %d live %d unreachable; want 3, 1, 1, 1",
			len(s.Tasks), s.UnreachableTasks, a.TaskCount, a.UnreachableTaskCount)
	}
	if app := findApp(t, s, "chronos/job"); app.Instances != 1 || app.Role != "*" {
		t.Errorf("chronos/job = %+v", app)
	}
	// Tasks without a name go by their id; one without either is still counted.
	if findApp(t, s, "batch/b1").Instances != 1 || findApp(t, s, "batch/").Instances != 1 {
		t.Errorf("applications %+v, want batch/b1 and batch/ with 1 task each", s.Applications)
	}
}

func TestDecodeStateDraining(t *testing.T) {
	tests := []struct {
		agent string
		want  bool
	}{
		{`{"id": "S0", "drain_info": {"state": "DRAINING", "config": {"mark_gone": false}}}`, true},
		{`{"id": "S0", "drain_info": {"state": "DRAINED"}}`, true},
		{`{"id": "S0", "deactivated": true}`, true},
		{`{"id": "S0", "deactivated": false, "drain_info": {"config": {}}}`, false},
		{`{"id": "S0", "deactivated": false}`, false},
		{`{"id": "S0", "active": false}`, false}, // disconnected, not drained
	}
	for _, tc := range tests {
		s := decodeString(t, `{"slaves": [`+tc.agent+`]}`)
		if got := s.Agents[0].Draining; got != tc.want {
			t.Errorf("%s: Draining = %v, want %v", tc.agent, got, tc.want)
		}
	}
}

func TestMarathonAppID(t *testing.T) {
	tests := []struct {
		taskID string
		want   string // "" when no Marathon format matches
	}{
		{"app-15.41fef02d-fcba-11e3-8b67-b6f6cc110ef2", "/app-15"},                       // 0.6
		{"app_682ebe64-0771-11e4-b05d-e0f84720c54e", "/app"},                             // before 0.7
		{"web_nginx.7084272b-6b76-11e5-a953-08002719334a", "/web/nginx"},                 // 0.7 - 1.3
		{"my.dotted.app.7084272b-6b76-11e5-a953-08002719334a", "/my.dotted.app"},         // dots inside a segment
		{"db_pg.7084272b-6b76-11e5-a953-08002719334a.3", "/db/pg"},                       // resident task, attempt 3
		{"web_nginx.marathon-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6", "/web/nginx"},        // 1.4 - 1.7
		{"jenkins.instance-5d5cfb57-365b-11ea-8f22-3ece2a18bc93._app.1", "/jenkins"},     // 1.8+
		{"a_b_c.instance-5d5cfb57-365b-11ea-8f22-3ece2a18bc93._app.42", "/a/b/c"},        // 42nd incarnation
		{"pods_db.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6.postgres", "/pods/db"},   // pod container
		{"pods_db.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6.postgres.2", "/pods/db"}, // pod, incarnation
		{"marathon-lb.instance-b6ff5fa5-7714-11e7-a55c-5ecf1c4671f6._app.1", "/marathon-lb"},
		{"server-0_10a", ""},
		{"etcd-1471132631 192.168.65.111 1025 1026 1027", ""},
		{"dog", ""},
		{".41fef02d-fcba-11e3-8b67-b6f6cc110ef2", ""},
		{"x.instance-notauuid._app.1", ""},
	}
	for _, tc := range tests {
		if got := string(marathonAppID(nil, []byte(tc.taskID))); got != tc.want {
			t.Errorf("marathonAppID(%q) = %q, want %q", tc.taskID, got, tc.want)
		}
	}
	for name, want := range map[string]string{"nginx.web": "/web/nginx", "chronos": "/chronos", "a.b.c": "/c/b/a"} {
		if got := string(appIDFromTaskName(nil, []byte(name))); got != want {
			t.Errorf("appIDFromTaskName(%q) = %q, want %q", name, got, want)
		}
	}
}
