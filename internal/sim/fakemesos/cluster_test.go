package fakemesos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const group = "mesos-agents-web"

// world is a fake AWS group, the simulated Mesos cluster over it, and the servers of both.
type world struct {
	clock      *testingclock.FakeClock
	aws        *fakeaws.Server
	cluster    *fakemesos.Cluster
	leaderURL  string
	standbyURL string
	client     *mesos.Client
}

// newWorld creates an empty group "mesos-agents-web" (max 10) and a cluster running apps, then
// raises the group's desired capacity to desired through the Auto Scaling API at the start
// time: the instances are Pending for 30 s, InService from start+30s, and register at start+90s.
func newWorld(t *testing.T, desired int, apps ...fakemesos.Application) *world {
	t.Helper()
	clk := testingclock.NewFakeClock(start)
	aws := fakeaws.New(fakeaws.Options{Clock: clk})
	if err := aws.CreateGroup(fakeaws.GroupConfig{Name: group, MinSize: 0, MaxSize: 10, InstanceType: "m5.2xlarge"}); err != nil {
		t.Fatal(err)
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock:        clk,
		Machines:     fakemesos.FromFakeAWS(aws, group),
		Applications: apps,
	})
	if err != nil {
		t.Fatal(err)
	}
	leader, standby, stop := c.StartPair()
	t.Cleanup(stop)
	// The standby first: the client must find the leader through it.
	client, err := mesos.NewClient([]string{standby, leader})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{clock: clk, aws: aws, cluster: c, leaderURL: leader, standbyURL: standby, client: client}
	w.autoScaling(t, "SetDesiredCapacity", "AutoScalingGroupName", group, "DesiredCapacity", strconv.Itoa(desired))
	return w
}

// autoScaling sends one Auto Scaling action to the fake AWS endpoint over its HTTP interface.
func (w *world) autoScaling(t *testing.T, action string, kv ...string) {
	t.Helper()
	form := url.Values{"Action": {action}, "Version": {fakeaws.AutoScalingVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	w.aws.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %v: %d %s", action, kv, rec.Code, rec.Body)
	}
}

func (w *world) state(t *testing.T) *mesos.Snapshot {
	t.Helper()
	snap, err := w.client.State(context.Background())
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return snap
}

func (w *world) queue(t *testing.T) []marathon.QueueItem {
	t.Helper()
	resp, err := http.Get(w.cluster.MarathonURL() + "/v2/queue")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/queue: %s", resp.Status)
	}
	q, err := marathon.ReadQueue(resp.Body)
	if err != nil {
		t.Fatalf("ReadQueue: %v", err)
	}
	return q
}

// instanceOf returns the instance id of the agent with id agentID.
func (w *world) instanceOf(t *testing.T, agentID string) string {
	t.Helper()
	for _, a := range w.cluster.Agents() {
		if a.ID == agentID {
			return a.InstanceID
		}
	}
	t.Fatalf("no agent %s", agentID)
	return ""
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func sameResources(a, b mesos.Resources) bool {
	return near(a.CPUs, b.CPUs) && near(a.Mem, b.Mem) && near(a.Disk, b.Disk) && near(a.GPUs, b.GPUs)
}

// tasksPerAgent maps the short agent id ("S0") to its task count.
func tasksPerAgent(c *fakemesos.Cluster) map[string]int {
	out := map[string]int{}
	for _, a := range c.Agents() {
		out[a.ID[strings.LastIndexByte(a.ID, '-')+1:]] = a.Tasks
	}
	return out
}

// api is 2 cores and 1 GiB per task. With the 0.1-core executor overhead a task takes 2.1
// cores, so an 8-core agent holds 3 (6.3 cores; a fourth would need 8.4).
func api(schedule ...fakemesos.Step) fakemesos.Application {
	return fakemesos.Application{ID: "/web/api", CPUs: 2, MemMiB: 1024, Schedule: schedule}
}

func TestAgentsRegisterAfterBootAndDecode(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}))

	// start+89s: InService since start+30s, registration due at start+90s.
	w.clock.Step(89 * time.Second)
	if snap := w.state(t); len(snap.Agents) != 0 || len(snap.Tasks) != 0 {
		t.Fatalf("at +89s: %d agents, %d tasks, want none", len(snap.Agents), len(snap.Tasks))
	}
	if q := w.queue(t); len(q) != 1 || q[0].Count != 4 || !q[0].Since.Equal(start) {
		t.Fatalf("at +89s: queue %+v, want the 4 copies of /web/api, queued since the start", q)
	}

	w.clock.Step(time.Second)
	snap := w.state(t)
	if snap.LeaderURL != w.leaderURL {
		t.Errorf("LeaderURL = %q, want the leader %q (reached through the standby %q)", snap.LeaderURL, w.leaderURL, w.standbyURL)
	}
	if want := "master@" + strings.TrimPrefix(w.leaderURL, "http://"); snap.Leader != want {
		t.Errorf("Leader = %q, want %q", snap.Leader, want)
	}
	if snap.Version != "1.11.0" || snap.Cluster != fakemesos.DefaultClusterName {
		t.Errorf("version %q, cluster %q", snap.Version, snap.Cluster)
	}
	if len(snap.Agents) != 3 {
		t.Fatalf("%d agents, want 3", len(snap.Agents))
	}
	ips := map[string]bool{}
	for _, in := range w.aws.Instances(group) {
		ips[in.PrivateIP] = true
	}
	var total, used mesos.Resources
	wantReg := seconds(start.Add(90 * time.Second))
	for i, a := range snap.Agents {
		if want := fakemesos.DefaultClusterID + "-S" + strconv.Itoa(i); a.ID != want {
			t.Errorf("agent %d id %q, want %q", i, a.ID, want)
		}
		if !ips[a.IP] || a.Hostname != a.IP || a.Port != 5051 {
			t.Errorf("agent %s: ip %q hostname %q port %d, want a group member's IP as both, port 5051", a.ID, a.IP, a.Hostname, a.Port)
		}
		if !a.Active || a.Draining || a.Version != "1.11.0" || !near(a.RegisteredTime, wantReg) {
			t.Errorf("agent %s: active %v draining %v version %q registered %v (want %v)", a.ID, a.Active, a.Draining, a.Version, a.RegisteredTime, wantReg)
		}
		// DefaultAttributes: the group name after its last "-".
		if !maps.Equal(a.Attributes, map[string]string{"pool": "web"}) {
			t.Errorf("agent %s attributes %v", a.ID, a.Attributes)
		}
		if !sameResources(a.Unreserved, a.Total) || len(a.Reserved) != 0 {
			t.Errorf("agent %s: unreserved %+v reserved %v, want all unreserved", a.ID, a.Unreserved, a.Reserved)
		}
		total = total.Add(a.Total)
		used = used.Add(a.Used)
	}
	// 3 agents × (8 cores, 30720 MiB, 94000 MiB disk).
	if !sameResources(total, mesos.Resources{CPUs: 24, Mem: 92160, Disk: 282000}) {
		t.Errorf("total %+v, want 24 cores, 92160 MiB, 282000 MiB disk", total)
	}
	// 4 tasks × (2 + 0.1 cores, 1024 + 32 MiB) = 8.4 cores, 4224 MiB.
	if !sameResources(used, mesos.Resources{CPUs: 8.4, Mem: 4224}) {
		t.Errorf("used %+v, want 8.4 cores and 4224 MiB", used)
	}
	// First fit: S0 takes 3 tasks (6.3 cores), the fourth goes to S1.
	wantUsed := []mesos.Resources{{CPUs: 6.3, Mem: 3168}, {CPUs: 2.1, Mem: 1056}, {}}
	wantTasks := []int{3, 1, 0}
	for i, a := range snap.Agents {
		if !sameResources(a.Used, wantUsed[i]) || a.TaskCount != wantTasks[i] {
			t.Errorf("agent %s: used %+v with %d tasks, want %+v with %d", a.ID, a.Used, a.TaskCount, wantUsed[i], wantTasks[i])
		}
	}
	if len(snap.Applications) != 1 {
		t.Fatalf("applications %+v, want /web/api", snap.Applications)
	}
	app := snap.Applications[0]
	if app.ID != "/web/api" || app.Instances != 4 || app.FrameworkName != "marathon" || app.Role != "*" ||
		len(app.Shapes) != 1 || !sameResources(app.Shapes[0].Resources, mesos.Resources{CPUs: 2, Mem: 1024}) {
		t.Errorf("application %+v", app)
	}
	if len(snap.Frameworks) != 1 || !snap.Frameworks[0].IsMarathon || snap.Frameworks[0].Role != "*" {
		t.Errorf("frameworks %+v, want Marathon with role *", snap.Frameworks)
	}
	if q := w.queue(t); len(q) != 0 {
		t.Errorf("queue %+v, want empty", q)
	}

	// Two State calls: each asked the standby for /master/redirect and read the leader's state.
	for _, c := range []struct {
		role fakemesos.Role
		path string
		want int
	}{
		{fakemesos.RoleStandby, "/master/redirect", 2},
		{fakemesos.RoleLeader, "/master/state", 2},
		{fakemesos.RoleLeader, "/master/redirect", 0},
		{fakemesos.RoleStandby, "/master/state", 0},
		{fakemesos.RoleMarathon, "/v2/queue", 2},
	} {
		if got := w.cluster.Requests(c.role, c.path); got != c.want {
			t.Errorf("%s %s: %d requests, want %d", c.role, c.path, got, c.want)
		}
	}
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func TestScheduleStepLeavesRestInQueue(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}, fakemesos.Step{At: 5 * time.Minute, Instances: 10}))
	w.clock.Step(90 * time.Second)
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S0": 3, "S1": 1, "S2": 0}) {
		t.Fatalf("before the step: tasks per agent %v", got)
	}

	w.clock.Step(3*time.Minute + 29*time.Second) // start+4m59s: still 4
	if apps := w.cluster.Apps(); apps[0].Wanted != 4 || apps[0].Running != 4 {
		t.Fatalf("at +4m59s: %+v", apps)
	}
	w.clock.Step(time.Second) // start+5m: 10 wanted
	// Each agent holds 3 tasks: S0 keeps its 3, S1 gets 2 more, S2 gets 3; 9 run, 1 waits.
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S0": 3, "S1": 3, "S2": 3}) {
		t.Errorf("tasks per agent %v, want 3 each", got)
	}
	q := w.queue(t)
	if len(q) != 1 {
		t.Fatalf("queue %+v, want one item", q)
	}
	item := q[0]
	if item.AppID != "/web/api" || item.Count != 1 || !item.Overdue || item.DelaySeconds != 0 ||
		!sameResources(item.Resources, mesos.Resources{CPUs: 2, Mem: 1024}) || !item.Since.Equal(start.Add(5*time.Minute)) {
		t.Errorf("queue item %+v, want 1 copy of /web/api (2 cores, 1024 MiB) queued since +5m", item)
	}

	// The same through Marathon's client, and /v2/apps.
	mq, err := marathon.NewClient(w.cluster.MarathonURL(), nil, "").Queue(context.Background())
	if err != nil || len(mq) != 1 || mq[0].Count != 1 {
		t.Errorf("marathon client Queue: %+v, %v", mq, err)
	}
	resp, err := http.Get(w.cluster.MarathonURL() + "/v2/apps")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := marathon.ReadApps(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].ID != "/web/api" || apps[0].Instances != 10 || apps[0].TasksRunning != 9 || apps[0].TasksStaged != 0 {
		t.Errorf("/v2/apps %+v, want /web/api with 10 instances, 9 running", apps)
	}

	snap := w.state(t)
	if len(snap.Tasks) != 9 || snap.Applications[0].Instances != 9 {
		t.Errorf("state: %d tasks, want 9", len(snap.Tasks))
	}
	// 9 × 2.1 = 18.9 cores used of 24.
	var used mesos.Resources
	for _, a := range snap.Agents {
		used = used.Add(a.Used)
	}
	if !near(used.CPUs, 18.9) || !near(used.Mem, 9*1056) {
		t.Errorf("used %+v, want 18.9 cores, 9504 MiB", used)
	}
}

func TestTerminatedInstanceLosesAgentAndTasks(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}))
	w.clock.Step(90 * time.Second)
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S0": 3, "S1": 1, "S2": 0}) {
		t.Fatalf("tasks per agent %v", got)
	}

	// S1's instance goes (desired 3 → 2): its task is lost and re-placed on S2, S0 being full.
	w.autoScaling(t, "TerminateInstanceInAutoScalingGroup", "InstanceId", w.instanceOf(t, fakemesos.DefaultClusterID+"-S1"),
		"ShouldDecrementDesiredCapacity", "true")
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S0": 3, "S2": 1}) {
		t.Errorf("after terminating S1: tasks per agent %v, want S0 3, S2 1", got)
	}
	if q := w.queue(t); len(q) != 0 {
		t.Errorf("queue %+v, want empty", q)
	}

	// S0's instance goes without decrement: its 3 tasks are lost; S2 takes 2 more (3 in all),
	// 1 waits for the replacement instance.
	w.clock.Step(10 * time.Second)
	w.autoScaling(t, "TerminateInstanceInAutoScalingGroup", "InstanceId", w.instanceOf(t, fakemesos.DefaultClusterID+"-S0"),
		"ShouldDecrementDesiredCapacity", "false")
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S2": 3}) {
		t.Errorf("after terminating S0: tasks per agent %v, want S2 3", got)
	}
	if q := w.queue(t); len(q) != 1 || q[0].Count != 1 {
		t.Errorf("queue %+v, want 1 copy", q)
	}
	snap := w.state(t)
	if len(snap.Agents) != 1 || len(snap.Tasks) != 3 {
		t.Errorf("state: %d agents, %d tasks, want 1 and 3", len(snap.Agents), len(snap.Tasks))
	}
	lost := completedStates(t, w.leaderURL)
	// 1 task lost with S1, 3 with S0.
	if lost["TASK_LOST"] != 4 {
		t.Errorf("completed tasks by state %v, want 4 TASK_LOST", lost)
	}

	// The replacement launches at the termination (+100s), is InService 30 s later and
	// registers 60 s after that (+190s) as S3: ids are never reused.
	w.clock.Step(89 * time.Second)
	if n := len(w.cluster.Agents()); n != 1 {
		t.Fatalf("at +189s: %d agents, want 1", n)
	}
	w.clock.Step(time.Second)
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S2": 3, "S3": 1}) {
		t.Errorf("after the replacement registered: tasks per agent %v, want S2 3, S3 1", got)
	}
	if q := w.queue(t); len(q) != 0 {
		t.Errorf("queue %+v, want empty", q)
	}
}

// completedStates counts the Marathon framework's completed tasks by state in the raw state.
func completedStates(t *testing.T, leaderURL string) map[string]int {
	t.Helper()
	var doc struct {
		Frameworks []struct {
			CompletedTasks []struct {
				State string `json:"state"`
			} `json:"completed_tasks"`
		} `json:"frameworks"`
	}
	getJSON(t, leaderURL+"/master/state", &doc)
	out := map[string]int{}
	for _, f := range doc.Frameworks {
		for _, ct := range f.CompletedTasks {
			out[ct.State]++
		}
	}
	return out
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestScaleDownKillsNewestFirst(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}, fakemesos.Step{At: 10 * time.Minute, Instances: 2}))
	// One jump, no observation in between: the registration at +90s and the step at +10m are
	// replayed in order, so the 4 tasks ran before 2 were killed.
	w.clock.Step(90*time.Second + 10*time.Minute)
	// Launch order: 3 tasks on S0, then the fourth on S1. The 2 newest (S1's, then S0's
	// third) are killed.
	if got := tasksPerAgent(w.cluster); !maps.Equal(got, map[string]int{"S0": 2, "S1": 0, "S2": 0}) {
		t.Errorf("tasks per agent %v, want S0 2", got)
	}
	if got := completedStates(t, w.leaderURL); !maps.Equal(got, map[string]int{"TASK_KILLED": 2}) {
		t.Errorf("completed tasks by state %v, want 2 TASK_KILLED", got)
	}
}

func TestHostnameUniqueAndAcceptsTasks(t *testing.T) {
	spread := fakemesos.Application{ID: "/monitoring/node-exporter", CPUs: 0.25, MemMiB: 64,
		Constraints: [][]string{{"hostname", "UNIQUE"}}, Schedule: []fakemesos.Step{{At: 0, Instances: 5}}}
	w := newWorld(t, 3, spread, api(fakemesos.Step{At: 0, Instances: 2}, fakemesos.Step{At: 5 * time.Minute, Instances: 4}))
	w.clock.Step(90 * time.Second)
	// One exporter per agent, 2 wait. The api tasks then go first-fit: S0 holds 0.35 cores of
	// exporter, 8 − 0.35 = 7.65 leaves room for 3 api tasks (6.3), so both go to S0.
	agents := w.cluster.Agents()
	for _, a := range agents {
		if a.TasksByApp["/monitoring/node-exporter"] != 1 {
			t.Errorf("agent %s: %v, want one exporter", a.ID, a.TasksByApp)
		}
	}
	if agents[0].TasksByApp["/web/api"] != 2 {
		t.Errorf("S0 runs %v, want 2 api tasks", agents[0].TasksByApp)
	}
	q := w.queue(t)
	if len(q) != 1 || q[0].AppID != "/monitoring/node-exporter" || q[0].Count != 2 ||
		!slices.EqualFunc(q[0].Constraints, [][]string{{"hostname", "UNIQUE"}}, slices.Equal) {
		t.Errorf("queue %+v, want 2 exporters with hostname:UNIQUE", q)
	}

	// S0 stops accepting tasks: its tasks stay, the 2 new api tasks go to S1.
	if err := w.cluster.SetAcceptsTasks(agents[0].ID, false); err != nil {
		t.Fatal(err)
	}
	w.clock.Step(5 * time.Minute)
	agents = w.cluster.Agents()
	if agents[0].TasksByApp["/web/api"] != 2 || agents[1].TasksByApp["/web/api"] != 2 || agents[0].AcceptsTasks {
		t.Errorf("api tasks S0 %v S1 %v (S0 accepts %v), want 2 and 2", agents[0].TasksByApp, agents[1].TasksByApp, agents[0].AcceptsTasks)
	}
	if err := w.cluster.SetAcceptsTasks("nope", true); !errors.Is(err, fakemesos.ErrNoAgent) {
		t.Errorf("SetAcceptsTasks(unknown) = %v, want ErrNoAgent", err)
	}
}

func TestMasterDownAndFaults(t *testing.T) {
	w := newWorld(t, 1)
	w.clock.Step(90 * time.Second)
	w.state(t)

	w.cluster.SetDown(true)
	_, err := w.client.State(context.Background())
	var se *mesos.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("State with the masters down: %v, want a 503 StatusError", err)
	}
	w.cluster.SetDown(false)
	w.state(t)

	// Discovery (the standby's redirect) still works; the leader's state fails once.
	w.cluster.FailNext(1, http.StatusInternalServerError)
	if _, err := w.client.State(context.Background()); !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError {
		t.Errorf("State after FailNext: %v, want a 500 StatusError", err)
	}
	if snap := w.state(t); len(snap.Agents) != 1 {
		t.Errorf("after the failure: %d agents, want 1", len(snap.Agents))
	}

	w.cluster.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := w.client.State(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("State with 1 s latency and a 50 ms deadline: %v, want DeadlineExceeded", err)
	}
	w.cluster.SetLatency(0)

	w.cluster.SetMarathonDown(true)
	if _, err := marathon.NewClient(w.cluster.MarathonURL(), nil, "").Queue(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Queue with Marathon down: %v, want a 503", err)
	}
}

func TestStandbyRedirectsAndFailover(t *testing.T) {
	w := newWorld(t, 1)
	w.clock.Step(90 * time.Second)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	leaderHost := strings.TrimPrefix(w.leaderURL, "http://")
	standbyHost := strings.TrimPrefix(w.standbyURL, "http://")
	for _, c := range []struct{ url, wantStatus, wantLocation string }{
		// Mesos redirects /master/redirect to the leader's base URL, even on the leader.
		{w.standbyURL + "/master/redirect", "307", "//" + leaderHost},
		{w.leaderURL + "/master/redirect", "307", "//" + leaderHost},
		// A 1.x standby redirects the state, path and query kept.
		{w.standbyURL + "/master/state?jsonp=x", "307", "//" + leaderHost + "/master/state?jsonp=x"},
		{w.leaderURL + "/master/state.json", "200", ""},
		{w.leaderURL + "/master/slaves", "404", ""},
	} {
		resp, err := noFollow.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Status[:3]; got != c.wantStatus || resp.Header.Get("Location") != c.wantLocation {
			t.Errorf("GET %s: %s Location %q, want %s %q", c.url, resp.Status, resp.Header.Get("Location"), c.wantStatus, c.wantLocation)
		}
	}

	m, err := w.cluster.Failover()
	if err != nil || m.Addr() != standbyHost {
		t.Fatalf("Failover() = %v, %v; want the standby", m, err)
	}
	snap := w.state(t)
	if snap.LeaderURL != w.standbyURL || snap.Leader != "master@"+standbyHost || len(snap.Agents) != 1 {
		t.Errorf("after failover: leader %q at %q with %d agents, want the former standby", snap.Leader, snap.LeaderURL, len(snap.Agents))
	}
	if n := w.cluster.Requests(fakemesos.RoleLeader, "/master/state"); n != 1 {
		t.Errorf("%d state requests answered as leader, want 1", n)
	}
}

// TestStateShape checks the raw document against the Mesos 1.x keys the decoders rely on.
func TestStateShape(t *testing.T) {
	w := newWorld(t, 2, api(fakemesos.Step{At: 0, Instances: 1}))
	w.clock.Step(90 * time.Second)
	var doc map[string]json.RawMessage
	getJSON(t, w.leaderURL+"/master/state", &doc)
	wantTop := []string{"version", "git_sha", "git_tag", "build_date", "build_time", "build_user", "start_time",
		"elected_time", "id", "pid", "hostname", "capabilities", "activated_slaves", "deactivated_slaves",
		"unreachable_slaves", "leader", "leader_info", "cluster", "log_dir", "flags", "slaves", "recovered_slaves",
		"frameworks", "completed_frameworks", "orphan_tasks", "unregistered_frameworks"}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, slices.Sorted(slices.Values(wantTop))) {
		t.Errorf("top-level keys %v, want %v", got, wantTop)
	}
	var counts struct {
		Activated   int `json:"activated_slaves"`
		Unreachable int `json:"unreachable_slaves"`
		Slaves      []struct {
			Resources map[string]any `json:"resources"`
		} `json:"slaves"`
		Frameworks []struct {
			Name  string `json:"name"`
			Tasks []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				State    string `json:"state"`
				Statuses []struct {
					Timestamp float64 `json:"timestamp"`
				} `json:"statuses"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	raw, _ := json.Marshal(doc)
	if err := json.Unmarshal(raw, &counts); err != nil {
		t.Fatal(err)
	}
	if counts.Activated != 2 || counts.Unreachable != 0 || len(counts.Slaves) != 2 || counts.Slaves[0].Resources["ports"] != "[31000-32000]" {
		t.Errorf("counts %+v", counts)
	}
	if len(counts.Frameworks) != 1 || len(counts.Frameworks[0].Tasks) != 1 {
		t.Fatalf("frameworks %+v", counts.Frameworks)
	}
	task := counts.Frameworks[0].Tasks[0]
	// Marathon 1.8+ ids: app path with "_", ".instance-<uuid>._app.1"; name: path reversed.
	if !strings.HasPrefix(task.ID, "web_api.instance-") || !strings.HasSuffix(task.ID, "._app.1") || task.Name != "api.web" ||
		task.State != "TASK_RUNNING" || len(task.Statuses) != 1 || !near(task.Statuses[0].Timestamp, seconds(start.Add(90*time.Second))) {
		t.Errorf("task %+v", task)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]fakemesos.Options{
		"relative id":    {Applications: []fakemesos.Application{{ID: "web", CPUs: 1}}},
		"underscore":     {Applications: []fakemesos.Application{{ID: "/web_api", CPUs: 1}}},
		"duplicate":      {Applications: []fakemesos.Application{{ID: "/a", CPUs: 1}, {ID: "/a", CPUs: 1}}},
		"no resources":   {Applications: []fakemesos.Application{{ID: "/a"}}},
		"constraint":     {Applications: []fakemesos.Application{{ID: "/a", CPUs: 1, Constraints: [][]string{{"rack", "GROUP_BY"}}}}},
		"unsorted steps": {Applications: []fakemesos.Application{{ID: "/a", CPUs: 1, Schedule: []fakemesos.Step{{At: time.Minute}, {At: 0}}}}},
		"negative count": {Applications: []fakemesos.Application{{ID: "/a", CPUs: 1, Schedule: []fakemesos.Step{{Instances: -1}}}}},
		"bad shape":      {Shapes: map[string]mesos.Resources{"t3.nano": {CPUs: 0, Mem: 512}}},
	} {
		if _, err := fakemesos.New(o); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
}

func TestShapesAndGroupAttributes(t *testing.T) {
	clk := testingclock.NewFakeClock(start)
	machines := []fakemesos.Machine{
		{InstanceID: "i-2", Group: "agents-gpu", PrivateIP: "10.0.0.2", InstanceType: "p3.2xlarge", InService: true, InServiceSince: start},
		{InstanceID: "i-1", Group: "agents-cpu", PrivateIP: "10.0.0.1", InstanceType: "m5.large", InService: true, InServiceSince: start},
		{InstanceID: "i-3", Group: "agents-cpu", PrivateIP: "10.0.0.3", InstanceType: "m5.large", InService: false},
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock:             clk,
		Machines:          func() []fakemesos.Machine { return machines },
		RegistrationDelay: -1,
		Shapes:            map[string]mesos.Resources{"m5.large": {CPUs: 2, Mem: 7680, Disk: 20000}},
		Attributes:        fakemesos.GroupAttributes(map[string]map[string]string{"agents-gpu": {"pool": "gpu", "gpu": "true"}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	agents := c.Agents()
	if len(agents) != 2 {
		t.Fatalf("%d agents, want the 2 InService machines", len(agents))
	}
	// Same registration time: ordered by instance id, so i-1 is S0.
	if agents[0].InstanceID != "i-1" || !sameResources(agents[0].Total, mesos.Resources{CPUs: 2, Mem: 7680, Disk: 20000}) ||
		!maps.Equal(agents[0].Attributes, map[string]string{"pool": "cpu"}) {
		t.Errorf("S0 %+v, want i-1 with the m5.large shape and pool cpu", agents[0])
	}
	if agents[1].InstanceID != "i-2" || !sameResources(agents[1].Total, fakemesos.DefaultShape) ||
		!maps.Equal(agents[1].Attributes, map[string]string{"pool": "gpu", "gpu": "true"}) {
		t.Errorf("S1 %+v, want i-2 with the default shape and the gpu attributes", agents[1])
	}
}

// TestStateDecodesAsFile checks a state rendered straight from a Master decodes with
// DecodeState and is one valid JSON document.
func TestStateDecodesAsFile(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}))
	w.clock.Step(90 * time.Second)
	rec := httptest.NewRecorder()
	w.cluster.Leader().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/master/state", nil))
	body, _ := io.ReadAll(rec.Body)
	if !json.Valid(body) {
		t.Fatalf("invalid JSON: %.200s", body)
	}
	snap, err := mesos.DecodeState(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Agents) != 3 || len(snap.Tasks) != 4 {
		t.Errorf("%d agents, %d tasks, want 3 and 4", len(snap.Agents), len(snap.Tasks))
	}
}

// TestConcurrentUse reads the state, the queue and the agents from several goroutines while the
// clock moves and instances come and go; run with -race.
func TestConcurrentUse(t *testing.T) {
	w := newWorld(t, 3, api(fakemesos.Step{At: 0, Instances: 4}, fakemesos.Step{At: 3 * time.Minute, Instances: 12}))
	w.clock.Step(90 * time.Second)
	done := make(chan error, 3)
	for range 3 {
		go func() {
			for range 20 {
				if _, err := w.client.State(context.Background()); err != nil {
					done <- err
					return
				}
				resp, err := http.Get(w.cluster.MarathonURL() + "/v2/queue")
				if err != nil {
					done <- err
					return
				}
				_, err = marathon.ReadQueue(resp.Body)
				resp.Body.Close()
				if err != nil {
					done <- err
					return
				}
				w.cluster.Agents()
			}
			done <- nil
		}()
	}
	for range 10 {
		w.clock.Step(20 * time.Second)
	}
	w.autoScaling(t, "SetDesiredCapacity", "AutoScalingGroupName", group, "DesiredCapacity", "5")
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	// +290s: 12 wanted, 3 agents hold 9; the 2 new instances register at +290s+90s.
	if apps := w.cluster.Apps(); apps[0].Running != 9 || apps[0].Queued != 3 {
		t.Errorf("apps %+v, want 9 running, 3 queued", apps)
	}
	w.clock.Step(90 * time.Second)
	if apps := w.cluster.Apps(); apps[0].Running != 12 || apps[0].Queued != 0 {
		t.Errorf("apps %+v, want 12 running", apps)
	}
}
