package fakemesos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

// send sends body (GET when empty) to u without following redirects and returns the status,
// the body and the headers.
func send(t *testing.T, method, u, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

func window(start int64, ids string) string {
	return `{"machine_ids":[` + ids + `],"unavailability":{"start":{"nanoseconds":` + fmt.Sprint(start) + `}}}`
}

func TestMaintenanceValidationMirrorsMesos(t *testing.T) {
	w := newWorld(t, 1)
	w.clock.Step(90 * time.Second)
	schedule := w.leaderURL + "/master/maintenance/schedule"
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantText                 string
	}{
		{"empty window", "POST", "/master/maintenance/schedule", `{"windows":[` + window(0, "") + `]}`,
			400, "List of machines in the maintenance window is empty"},
		{"machine without hostname or ip", "POST", "/master/maintenance/schedule", `{"windows":[` + window(0, `{}`) + `]}`,
			400, "Both 'hostname' and 'ip' for a machine are empty"},
		{"machine twice, hostname case differs", "POST", "/master/maintenance/schedule",
			`{"windows":[` + window(0, `{"hostname":"b","ip":"10.0.0.2"}`) + `,` + window(1, `{"hostname":"B","ip":"10.0.0.2"}`) + `]}`,
			400, `Machine '{"hostname":"B","ip":"10.0.0.2"}' appears more than once in the schedule`},
		{"negative duration", "POST", "/maintenance/schedule",
			`{"windows":[{"machine_ids":[{"ip":"10.0.0.2"}],"unavailability":{"start":{"nanoseconds":0},"duration":{"nanoseconds":-1}}}]}`,
			400, "Unavailability 'duration' is negative"},
		{"no unavailability", "POST", "/master/maintenance/schedule", `{"windows":[{"machine_ids":[{"ip":"10.0.0.2"}]}]}`,
			400, "Missing required fields: windows[0].unavailability"},
		{"bad ip", "POST", "/master/maintenance/schedule", `{"windows":[` + window(0, `{"ip":"10.0.0.256"}`) + `]}`,
			400, "Failed to parse IPv4: 10.0.0.256"},
		{"wrong method", "PUT", "/master/maintenance/schedule", `{}`,
			405, "405 Method Not Allowed. Expecting one of { 'GET', 'POST' }, but received 'PUT'."},
		{"down with GET", "GET", "/master/machine/down", "",
			405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."},
		{"status with POST", "POST", "/master/maintenance/status", "{}",
			405, "405 Method Not Allowed. Expecting one of { 'GET' }, but received 'POST'."},
		{"down empty", "POST", "/master/machine/down", `[]`, 400, "List of machines is empty"},
		{"up twice", "POST", "/machine/up", `[{"ip":"10.0.0.1"},{"ip":"10.0.0.1"}]`,
			400, `Machine '{"ip":"10.0.0.1"}' appears more than once in the schedule`},
		{"down unscheduled", "POST", "/master/machine/down", `[{"hostname":"h","ip":"10.0.0.1"}]`,
			400, `Machine '{"hostname":"h","ip":"10.0.0.1"}' is not part of a maintenance schedule`},
		{"up unscheduled", "POST", "/master/machine/up", `[{"hostname":"h"}]`,
			400, `Machine '{"hostname":"h"}' is not part of a maintenance schedule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, text, h := send(t, tt.method, w.leaderURL+tt.path, tt.body)
			if code != tt.wantCode || text != tt.wantText {
				t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, code, text, tt.wantCode, tt.wantText)
			}
			if code == 405 && h.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
		})
	}
	if code, text, _ := send(t, "POST", schedule, `{"windows":`); code != 400 || !strings.HasPrefix(text, "Failed to parse JSON") {
		t.Errorf("truncated JSON: %d %q", code, text)
	}
	// Nothing was accepted: the schedule and the status are Mesos' empty objects.
	for _, path := range []string{"/master/maintenance/schedule", "/master/maintenance/status"} {
		if code, text, h := send(t, "GET", w.leaderURL+path, ""); code != 200 || text != "{}" || h.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %q %q, want 200 {}", path, code, text, h.Get("Content-Type"))
		}
	}
}

func TestMaintenanceOnStandbyAndWhenDown(t *testing.T) {
	w := newWorld(t, 1)
	body := `{"windows":[` + window(0, `{"ip":"10.0.0.1"}`) + `]}`
	code, _, h := send(t, "POST", w.standbyURL+"/master/maintenance/schedule", body)
	if want := "//" + strings.TrimPrefix(w.leaderURL, "http://") + "/master/maintenance/schedule"; code != http.StatusTemporaryRedirect || h.Get("Location") != want {
		t.Errorf("standby: %d Location %q, want 307 %q", code, h.Get("Location"), want)
	}
	w.cluster.SetDown(true)
	if code, text, _ := send(t, "GET", w.leaderURL+"/master/maintenance/status", ""); code != 503 || text != "No leader elected" {
		t.Errorf("masters down: %d %q", code, text)
	}
	w.cluster.SetDown(false)
	if len(w.cluster.Schedule().Windows) != 0 {
		t.Errorf("schedule %+v after a redirected POST, want empty", w.cluster.Schedule())
	}
}

// TestMachineIDNeedsHostnameAndIP: agents from the fake AWS register with their IP as hostname.
// A machine id with only the IP has an empty hostname, so, as on a real master, it names no
// agent; nor does one with another hostname; with both it names the agent. Hostnames compare
// without case.
func TestMachineIDNeedsHostnameAndIP(t *testing.T) {
	w := newWorld(t, 2)
	w.clock.Step(90 * time.Second)
	agents := w.cluster.Agents()
	ip := agents[0].IP
	if agents[0].Hostname != ip {
		t.Fatalf("agent hostname %q, want its IP %q", agents[0].Hostname, ip)
	}
	post := func(ids string) {
		t.Helper()
		if code, text, _ := send(t, "POST", w.leaderURL+"/master/maintenance/schedule", `{"windows":[`+window(0, ids)+`]}`); code != 200 {
			t.Fatalf("POST schedule: %d %s", code, text)
		}
	}
	post(`{"ip":"` + ip + `"}`)
	if a := w.cluster.Agents()[0]; a.Draining || !a.AcceptsTasks {
		t.Errorf("ip-only machine id drains the agent (draining %v)", a.Draining)
	}
	post(`{"hostname":"other.example","ip":"` + ip + `"}`)
	if a := w.cluster.Agents()[0]; a.Draining {
		t.Errorf("machine id with another hostname drains the agent")
	}
	post(`{"hostname":"` + ip + `","ip":"` + ip + `"}`)
	if a := w.cluster.Agents()[0]; !a.Draining || a.AcceptsTasks {
		t.Errorf("full machine id does not drain the agent: %+v", a)
	}
	if a := w.cluster.Agents()[1]; a.Draining {
		t.Errorf("the other agent drains too")
	}
	// The schedule is replaced: an empty one takes the agent back.
	if code, text, _ := send(t, "POST", w.leaderURL+"/master/maintenance/schedule", `{}`); code != 200 {
		t.Fatalf("POST empty schedule: %d %s", code, text)
	}
	if a := w.cluster.Agents()[0]; a.Draining || !a.AcceptsTasks {
		t.Errorf("agent still draining after an empty schedule")
	}

	c, _, leader := maintCluster(t, 2, 0)
	body := `{"windows":[` + window(0, `{"hostname":"IP-10-0-1-2","ip":"10.0.1.2"}`) + `]}`
	if code, text, _ := send(t, "POST", leader+"/master/maintenance/schedule", body); code != 200 {
		t.Fatal(code, text)
	}
	if agents := c.Agents(); agents[0].Draining || !agents[1].Draining || agents[1].Hostname != "ip-10-0-1-2" {
		t.Errorf("upper-case hostname: draining %v %v, want S1 (ip-10-0-1-2) only", agents[0].Draining, agents[1].Draining)
	}
}

// maintCluster is a cluster of n registered agents (8 cores; ip-10-0-1-<i>, 10.0.1.<i>) on a
// fake clock with the given drain delay, and its leader's URL.
func maintCluster(t *testing.T, n int, moveAfter time.Duration, apps ...fakemesos.Application) (*fakemesos.Cluster, *testingclock.FakeClock, string) {
	t.Helper()
	clk := testingclock.NewFakeClock(start)
	machines := make([]fakemesos.Machine, n)
	for i := range machines {
		machines[i] = fakemesos.Machine{
			InstanceID: fmt.Sprintf("i-%017d", i+1), Group: group, InstanceType: "m5.2xlarge",
			PrivateIP: fmt.Sprintf("10.0.1.%d", i+1), Hostname: fmt.Sprintf("ip-10-0-1-%d", i+1), InService: true,
		}
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock: clk, Machines: func() []fakemesos.Machine { return machines },
		Applications: apps, DrainMoveAfter: moveAfter,
	})
	if err != nil {
		t.Fatal(err)
	}
	leader, _, stop := c.StartPair()
	t.Cleanup(stop)
	return c, clk, leader
}

func drain(t *testing.T, leader string, i int) {
	t.Helper()
	body := `{"windows":[` + window(0, fmt.Sprintf(`{"hostname":"ip-10-0-1-%d","ip":"10.0.1.%d"}`, i, i)) + `]}`
	if code, text, _ := send(t, "POST", leader+"/master/maintenance/schedule", body); code != 200 {
		t.Fatalf("draining machine %d: %d %s", i, code, text)
	}
}

// TestForcePlaceOnDrainingAgent: S0's 3 api tasks move to S1 after 60 s. A task forced onto
// S0 (the newest api task leaves S1 for it) stays 60 s, then moves back to S1. Nothing is
// killed; 4 moves in all.
func TestForcePlaceOnDrainingAgent(t *testing.T) {
	c, clk, leader := maintCluster(t, 3, 0, api(fakemesos.Step{Instances: 3}))
	if got := tasksPerAgent(c); !maps.Equal(got, map[string]int{"S0": 3, "S1": 0, "S2": 0}) {
		t.Fatalf("tasks %v", got)
	}
	drain(t, leader, 1)
	clk.Step(fakemesos.DefaultDrainMoveAfter)
	if got := tasksPerAgent(c); !maps.Equal(got, map[string]int{"S0": 0, "S1": 3, "S2": 0}) {
		t.Fatalf("after the drain: tasks %v, want S1 3", got)
	}
	s0 := c.Agents()[0].ID
	if err := c.ForcePlace("/web/api", s0); err != nil {
		t.Fatalf("ForcePlace: %v", err)
	}
	if got := tasksPerAgent(c); !maps.Equal(got, map[string]int{"S0": 1, "S1": 2, "S2": 0}) {
		t.Fatalf("after ForcePlace: tasks %v, want S0 1, S1 2", got)
	}
	clk.Step(fakemesos.DefaultDrainMoveAfter - time.Second)
	if got := tasksPerAgent(c); got["S0"] != 1 {
		t.Errorf("%v before the delay: tasks %v, want the forced task still on S0", fakemesos.DefaultDrainMoveAfter-time.Second, got)
	}
	clk.Step(time.Second)
	if got := tasksPerAgent(c); !maps.Equal(got, map[string]int{"S0": 0, "S1": 3, "S2": 0}) {
		t.Errorf("after the delay: tasks %v, want S1 3", got)
	}
	if k, m := c.KilledTasks(), c.MovedTasks(); len(k) != 0 || !maps.Equal(m, map[string]int{"/web/api": 4}) {
		t.Errorf("killed %v moved %v, want none and 4", k, m)
	}
	if apps := c.Apps(); apps[0].Running != 3 {
		t.Errorf("apps %+v, want 3 running", apps)
	}

	if err := c.ForcePlace("/nope", s0); !errors.Is(err, fakemesos.ErrNoApplication) {
		t.Errorf("ForcePlace(unknown app) = %v", err)
	}
	if err := c.ForcePlace("/web/api", "nope"); !errors.Is(err, fakemesos.ErrNoAgent) {
		t.Errorf("ForcePlace(unknown agent) = %v", err)
	}
	// S1 is full (3 × 2.1 cores, a fourth needs 8.4): the task has no room.
	if err := c.ForcePlace("/web/api", c.Agents()[1].ID); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("ForcePlace on a full agent = %v", err)
	}
}

// TestDrainReplayIsDeterministic: stepping the clock second by second or jumping gives the
// same placement. /web/api's 3 tasks run on S0, which drains from +60s with a 30 s delay; the
// app grows to 5 at +80s and S0's tasks move at +90s.
func TestDrainReplayIsDeterministic(t *testing.T) {
	run := func(step time.Duration) (tasks, moved map[string]int, starts []string) {
		c, clk, leader := maintCluster(t, 3, 30*time.Second, api(fakemesos.Step{Instances: 3}, fakemesos.Step{At: 80 * time.Second, Instances: 5}))
		clk.Step(time.Minute)
		drain(t, leader, 1)
		for elapsed := time.Duration(0); elapsed < 2*time.Minute; elapsed += step {
			clk.Step(step)
			c.Apps() // observe: the simulation advances only when read
		}
		return tasksPerAgent(c), c.MovedTasks(), taskStarts(t, leader)
	}
	// At +80s 2 more tasks go to S1 (S0 draining); at +90s S0's 3 move: 1 fits on S1 (3 in
	// all), 2 on S2.
	want := map[string]int{"S0": 0, "S1": 3, "S2": 2}
	wantStarts := []string{"S1 +1m20s", "S1 +1m20s", "S1 +1m30s", "S2 +1m30s", "S2 +1m30s"}
	tick, tickMoved, tickStarts := run(time.Second)
	jump, jumpMoved, jumpStarts := run(2 * time.Minute)
	if !maps.Equal(tick, want) || !maps.Equal(jump, want) {
		t.Errorf("ticking %v, jumping %v, want %v", tick, jump, want)
	}
	if !maps.Equal(tickMoved, map[string]int{"/web/api": 3}) || !maps.Equal(jumpMoved, tickMoved) {
		t.Errorf("moved: ticking %v, jumping %v, want 3", tickMoved, jumpMoved)
	}
	if !slices.Equal(tickStarts, wantStarts) || !slices.Equal(jumpStarts, wantStarts) {
		t.Errorf("task starts: ticking %v, jumping %v, want %v", tickStarts, jumpStarts, wantStarts)
	}
}

// taskStarts lists the running tasks of the raw state as "<short agent id> +<start − start>",
// sorted.
func taskStarts(t *testing.T, leaderURL string) []string {
	t.Helper()
	var doc struct {
		Frameworks []struct {
			Tasks []struct {
				SlaveID  string `json:"slave_id"`
				Statuses []struct {
					Timestamp float64 `json:"timestamp"`
				} `json:"statuses"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	getJSON(t, leaderURL+"/master/state", &doc)
	var out []string
	for _, f := range doc.Frameworks {
		for _, tk := range f.Tasks {
			at := time.Duration(math.Round(tk.Statuses[0].Timestamp-seconds(start))) * time.Second
			out = append(out, tk.SlaveID[strings.LastIndexByte(tk.SlaveID, '-')+1:]+" +"+at.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestTerminatedWhileDrainingCountsKilled: a task that ignores inverse offers is still on the
// draining agent when its instance terminates: it is lost and counts as killed.
func TestTerminatedWhileDrainingCountsKilled(t *testing.T) {
	cache := fakemesos.Application{ID: "/data/cache", CPUs: 1, MemMiB: 512, Schedule: []fakemesos.Step{{Instances: 1}}, IgnoresInverseOffers: true}
	w := newWorld(t, 2, cache)
	w.clock.Step(90 * time.Second)
	a := w.cluster.Agents()[0]
	if a.Tasks != 1 {
		t.Fatalf("S0 runs %d tasks, want the cache", a.Tasks)
	}
	body := `{"windows":[` + window(0, `{"hostname":"`+a.Hostname+`","ip":"`+a.IP+`"}`) + `]}`
	if code, text, _ := send(t, "POST", w.leaderURL+"/master/maintenance/schedule", body); code != 200 {
		t.Fatal(code, text)
	}
	w.clock.Step(time.Hour)
	if got := w.cluster.Agents()[0]; got.Tasks != 1 || !got.Draining {
		t.Fatalf("after an hour: %+v, want the cache still on the draining S0", got)
	}
	w.autoScaling(t, "TerminateInstanceInAutoScalingGroup", "InstanceId", a.InstanceID, "ShouldDecrementDesiredCapacity", "true")
	if k := w.cluster.KilledTasks(); !maps.Equal(k, map[string]int{"/data/cache": 1}) {
		t.Errorf("killed %v, want the cache", k)
	}
	if m := w.cluster.MovedTasks(); len(m) != 0 {
		t.Errorf("moved %v, want none", m)
	}
	// The machine stays DRAINING in the schedule, without an agent, until someone removes it.
	var st mesos.MaintenanceStatus
	getJSON(t, w.leaderURL+"/master/maintenance/status", &st)
	if len(st.Draining) != 1 || st.Draining[0].ID.IP != a.IP {
		t.Errorf("status %+v, want %s draining", st, a.IP)
	}
}

// TestMaintenanceConcurrentUse posts schedules and takes machines down and up while other
// goroutines read the state and the status; run with -race.
func TestMaintenanceConcurrentUse(t *testing.T) {
	c, clk, leader := maintCluster(t, 4, 0, api(fakemesos.Step{Instances: 6}))
	client, err := mesos.NewClient([]string{leader})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := client.State(ctx); err != nil {
					errs <- err
					return
				}
				if _, err := client.MaintenanceStatus(ctx); err != nil {
					errs <- err
					return
				}
				c.Agents()
				c.MovedTasks()
			}
		}()
	}
	m4 := mesos.MachineID{Hostname: "ip-10-0-1-4", IP: "10.0.1.4"}
	for range 5 {
		if _, err := client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule { return s.WithWindow([]mesos.MachineID{m4}, start, time.Hour) }); err != nil {
			t.Fatal(err)
		}
		clk.Step(time.Minute)
		if err := client.MachinesDown(ctx, []mesos.MachineID{m4}); err != nil {
			t.Fatal(err)
		}
		if err := client.MachinesUp(ctx, []mesos.MachineID{m4}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := c.Schedule(); len(s.Windows) != 0 {
		t.Errorf("schedule %+v, want empty", s)
	}
	if apps := c.Apps(); apps[0].Running != 6 {
		t.Errorf("apps %+v, want 6 running", apps)
	}
	if k := c.KilledTasks(); len(k) != 0 {
		t.Errorf("killed %v: S3 never ran a task (6 fit on S0 and S1), want none", k)
	}
}
