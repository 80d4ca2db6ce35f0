package mesos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

// maintenanceFixtures holds the Mesos documentation's maintenance bodies (see
// shared/fixtures/SOURCES.md).
const maintenanceFixtures = "../../../shared/fixtures/maintenance"

func readMaintenanceFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(maintenanceFixtures, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared fixtures absent: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScheduleDecodesMesosDocsExample decodes the schedule of docs/maintenance.md: two windows,
// machine1 and machine2 from 1443830400 s (2015-10-03T00:00:00Z) for one hour, machine3 from
// 1443834000 s (an hour later) for one hour. Encoding it again gives the same JSON document.
func TestScheduleDecodesMesosDocsExample(t *testing.T) {
	doc := readMaintenanceFixture(t, "schedule-mesos-docs-example.json")
	var s mesos.Schedule
	if err := json.Unmarshal(doc, &s); err != nil {
		t.Fatal(err)
	}
	want := mesos.Schedule{Windows: []mesos.Window{
		{
			Machines: []mesos.MachineID{{Hostname: "machine1", IP: "10.0.0.1"}, {Hostname: "machine2", IP: "10.0.0.2"}},
			Start:    time.Unix(0, 1443830400000000000), Duration: time.Hour,
		},
		{
			Machines: []mesos.MachineID{{Hostname: "machine3", IP: "10.0.0.3"}},
			Start:    time.Unix(0, 1443834000000000000), Duration: time.Hour,
		},
	}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("decoded %+v\nwant    %+v", s, want)
	}
	if got := s.Windows[0].Start.UnixNano(); got != 1443830400000000000 {
		t.Errorf("first window starts at %d ns, want 1443830400000000000", got)
	}
	if got := s.Windows[1].Duration.Nanoseconds(); got != 3600000000000 {
		t.Errorf("second window lasts %d ns, want 3600000000000", got)
	}

	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(doc, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("re-encoded schedule differs from the docs example:\n%s", out)
	}
}

func TestMachineListDecodesMesosDocsExample(t *testing.T) {
	doc := readMaintenanceFixture(t, "machine-down-body-mesos-docs-example.json")
	var ids []mesos.MachineID
	if err := json.Unmarshal(doc, &ids); err != nil {
		t.Fatal(err)
	}
	want := []mesos.MachineID{{Hostname: "machine1", IP: "10.0.0.1"}, {Hostname: "machine2", IP: "10.0.0.2"}}
	if !slices.Equal(ids, want) {
		t.Errorf("machines %+v, want %+v", ids, want)
	}
}

func TestScheduleJSONEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    mesos.Schedule
		wantErr string
	}{
		{name: "empty object is the empty schedule", doc: `{}`, want: mesos.Schedule{}},
		{name: "window without duration is indefinite", doc: `{"windows":[{"machine_ids":[{"ip":"10.0.0.9"}],"unavailability":{"start":{"nanoseconds":5}}}]}`,
			want: mesos.Schedule{Windows: []mesos.Window{{Machines: []mesos.MachineID{{IP: "10.0.0.9"}}, Start: time.Unix(0, 5), Indefinite: true}}}},
		{name: "nanoseconds as strings", doc: `{"windows":[{"machine_ids":[{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":"7"},"duration":{"nanoseconds":"3"}}}]}`,
			want: mesos.Schedule{Windows: []mesos.Window{{Machines: []mesos.MachineID{{Hostname: "a"}}, Start: time.Unix(0, 7), Duration: 3}}}},
		{name: "window without unavailability", doc: `{"windows":[{"machine_ids":[{"hostname":"a"}]}]}`, wantErr: "window 0 has no unavailability start"},
		{name: "not JSON", doc: `{"windows":`, wantErr: "unexpected end of JSON input"},
		{name: "windows not a list", doc: `{"windows":{}}`, wantErr: "decoding maintenance schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s mesos.Schedule
			err := json.Unmarshal([]byte(tt.doc), &s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Errorf("decoded %+v, want %+v", s, tt.want)
			}
		})
	}

	// An indefinite window is written back without a duration, a zero one with 0.
	b, err := json.Marshal(mesos.Schedule{Windows: []mesos.Window{
		{Machines: []mesos.MachineID{{IP: "10.0.0.9"}}, Start: time.Unix(0, 5), Indefinite: true},
		{Machines: []mesos.MachineID{{Hostname: "b"}}, Start: time.Unix(0, 6)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"windows":[{"machine_ids":[{"ip":"10.0.0.9"}],"unavailability":{"start":{"nanoseconds":5}}},` +
		`{"machine_ids":[{"hostname":"b"}],"unavailability":{"start":{"nanoseconds":6},"duration":{"nanoseconds":0}}}]}`
	if string(b) != want {
		t.Errorf("encoded\n%s\nwant\n%s", b, want)
	}
}

var (
	ops    = mesos.MachineID{Hostname: "db-7.example", IP: "10.0.9.7"}
	agentA = mesos.MachineID{Hostname: "ip-10-0-1-1.ec2.internal", IP: "10.0.1.1"}
	agentB = mesos.MachineID{Hostname: "ip-10-0-1-2.ec2.internal", IP: "10.0.1.2"}
	t0     = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

// operatorSchedule is another operator's schedule: db-7 from t0+1h, with no end.
func operatorSchedule() mesos.Schedule {
	return mesos.Schedule{Windows: []mesos.Window{{Machines: []mesos.MachineID{ops}, Start: t0.Add(time.Hour), Indefinite: true}}}
}

func TestWithWindowKeepsOtherWindows(t *testing.T) {
	orig := operatorSchedule()
	got := orig.WithWindow([]mesos.MachineID{agentA, agentB, agentA}, t0, 10*time.Minute)
	want := mesos.Schedule{Windows: []mesos.Window{
		orig.Windows[0],
		{Machines: []mesos.MachineID{agentA, agentB}, Start: t0, Duration: 10 * time.Minute},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WithWindow = %+v\nwant        %+v", got, want)
	}
	if !reflect.DeepEqual(orig, operatorSchedule()) {
		t.Errorf("WithWindow modified its receiver: %+v", orig)
	}

	// A machine already scheduled (hostname in another case) is not added twice; the others
	// get their own window.
	shouty := mesos.MachineID{Hostname: "DB-7.EXAMPLE", IP: ops.IP}
	agentC := mesos.MachineID{Hostname: "ip-10-0-1-3.ec2.internal", IP: "10.0.1.3"}
	got2 := got.WithWindow([]mesos.MachineID{shouty, agentB, agentC}, t0.Add(time.Minute), time.Minute)
	if len(got2.Windows) != 3 || !slices.Equal(got2.Windows[2].Machines, []mesos.MachineID{agentC}) {
		t.Errorf("second WithWindow = %+v, want a third window with only %v", got2, agentC)
	}
	if err := got2.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// Nothing new: the schedule is unchanged.
	if same := got.WithWindow([]mesos.MachineID{agentB, shouty}, t0, time.Hour); !same.Equal(got) || len(same.Windows) != 2 {
		t.Errorf("WithWindow of scheduled machines = %+v, want %+v", same, got)
	}
}

func TestWithoutRemovesOnlyThoseMachines(t *testing.T) {
	s := operatorSchedule().WithWindow([]mesos.MachineID{agentA, agentB}, t0, 10*time.Minute)
	before := s.Clone()

	// agentB leaves its window, which stays for agentA; the operator's window is untouched.
	got := s.Without([]mesos.MachineID{agentB, {Hostname: "unknown", IP: "10.9.9.9"}})
	want := mesos.Schedule{Windows: []mesos.Window{
		operatorSchedule().Windows[0],
		{Machines: []mesos.MachineID{agentA}, Start: t0, Duration: 10 * time.Minute},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Without(agentB) = %+v\nwant           %+v", got, want)
	}
	// agentA too (hostname in another case): its window is dropped.
	got = got.Without([]mesos.MachineID{{Hostname: strings.ToUpper(agentA.Hostname), IP: agentA.IP}})
	if !reflect.DeepEqual(got, operatorSchedule()) {
		t.Errorf("Without(agentA) = %+v, want only the operator's window", got)
	}
	if !reflect.DeepEqual(s, before) {
		t.Errorf("Without modified its receiver: %+v", s)
	}
	if s.Contains(agentA) != true || got.Contains(agentA) || !got.Contains(ops) {
		t.Errorf("Contains: before %v after %v operator %v, want true false true", s.Contains(agentA), got.Contains(agentA), got.Contains(ops))
	}
}

func TestScheduleValidate(t *testing.T) {
	win := func(d time.Duration, ids ...mesos.MachineID) mesos.Window {
		return mesos.Window{Machines: ids, Start: t0, Duration: d}
	}
	tests := []struct {
		name    string
		s       mesos.Schedule
		wantErr string
	}{
		{"empty schedule", mesos.Schedule{}, ""},
		{"valid", mesos.Schedule{Windows: []mesos.Window{win(time.Hour, agentA), win(0, agentB, ops)}}, ""},
		{"ip only", mesos.Schedule{Windows: []mesos.Window{win(time.Hour, mesos.MachineID{IP: "10.0.0.1"})}}, ""},
		{"empty window", mesos.Schedule{Windows: []mesos.Window{win(time.Hour)}}, "window 0 has no machine"},
		{"negative duration", mesos.Schedule{Windows: []mesos.Window{win(-time.Second, agentA)}}, "negative duration"},
		{"no hostname nor ip", mesos.Schedule{Windows: []mesos.Window{win(time.Hour, mesos.MachineID{})}}, "neither hostname nor ip"},
		{"IPv6", mesos.Schedule{Windows: []mesos.Window{win(time.Hour, mesos.MachineID{IP: "fd00::1"})}}, "not an IPv4 address"},
		{"twice across windows", mesos.Schedule{Windows: []mesos.Window{win(time.Hour, agentA), win(time.Hour, mesos.MachineID{Hostname: "IP-10-0-1-1.ec2.internal", IP: agentA.IP})}},
			"appears more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMachineIDOf(t *testing.T) {
	a := mesos.Agent{ID: "x-S1", Hostname: "Agent-1.Example", IP: "10.0.2.121", Port: 5051}
	if got := mesos.MachineIDOf(a); got != (mesos.MachineID{Hostname: "Agent-1.Example", IP: "10.0.2.121"}) {
		t.Errorf("MachineIDOf = %+v", got)
	}
	if s := agentA.String(); s != `{"hostname":"ip-10-0-1-1.ec2.internal","ip":"10.0.1.1"}` {
		t.Errorf("String = %s", s)
	}
}

// maintWorld is a simulated cluster of n machines (ip-10-0-1-<i>.ec2.internal, 10.0.1.<i>, 8
// cores each), registered from the start, served by a leader and a standby; the client knows the
// standby first.
type maintWorld struct {
	clock   *testingclock.FakeClock
	cluster *fakemesos.Cluster
	client  *mesos.Client
	leader  string
}

func newMaintWorld(t *testing.T, n int, apps ...fakemesos.Application) *maintWorld {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	machines := make([]fakemesos.Machine, n)
	for i := range machines {
		machines[i] = fakemesos.Machine{
			InstanceID: fmt.Sprintf("i-%017d", i+1), Group: "mesos-agents-web", InstanceType: "m5.2xlarge",
			PrivateIP: fmt.Sprintf("10.0.1.%d", i+1), Hostname: fmt.Sprintf("ip-10-0-1-%d.ec2.internal", i+1),
			InService: true,
		}
	}
	var mu sync.Mutex
	c, err := fakemesos.New(fakemesos.Options{
		Clock: clk,
		Machines: func() []fakemesos.Machine {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(machines)
		},
		Applications: apps,
	})
	if err != nil {
		t.Fatal(err)
	}
	leader, standby, stop := c.StartPair()
	t.Cleanup(stop)
	client, err := mesos.NewClient([]string{standby, leader})
	if err != nil {
		t.Fatal(err)
	}
	return &maintWorld{clock: clk, cluster: c, client: client, leader: leader}
}

// agentIDs maps the agents' machine ids to their agent ids, from the decoded state.
func (w *maintWorld) agents(t *testing.T) map[mesos.MachineID]mesos.Agent {
	t.Helper()
	snap, err := w.client.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[mesos.MachineID]mesos.Agent{}
	for _, a := range snap.Agents {
		out[mesos.MachineIDOf(a)] = a
	}
	return out
}

// tasks maps short agent ids ("S0") to their tasks by application.
func (w *maintWorld) tasks() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, a := range w.cluster.Agents() {
		out[a.ID[strings.LastIndexByte(a.ID, '-')+1:]] = a.TasksByApp
	}
	return out
}

// postRaw posts body to the leader as another operator's tool would.
func postRaw(t *testing.T, u, body string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", u, resp.Status, b)
	}
}

func TestUpdateScheduleKeepsOtherOperatorsWindow(t *testing.T) {
	w := newMaintWorld(t, 3)
	ctx := context.Background()
	agents := w.agents(t)
	if len(agents) != 3 {
		t.Fatalf("%d agents, want 3", len(agents))
	}
	if _, ok := agents[agentA]; !ok {
		t.Fatalf("no agent with machine id %v in %v", agentA, slices.Collect(maps.Keys(agents)))
	}

	// Another operator scheduled db-7 (not an agent) from t0+1h, without an end.
	postRaw(t, w.leader+mesos.PathMaintenanceSchedule,
		`{"windows":[{"machine_ids":[{"hostname":"db-7.example","ip":"10.0.9.7"}],"unavailability":{"start":{"nanoseconds":`+
			fmt.Sprint(t0.Add(time.Hour).UnixNano())+`}}}]}`)

	got, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA, agentB}, t0, 15*time.Minute)
	})
	if err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	want := operatorSchedule().WithWindow([]mesos.MachineID{agentA, agentB}, t0, 15*time.Minute)
	if !got.Equal(want) || !w.cluster.Schedule().Equal(want) {
		t.Fatalf("schedule after adding ours:\nreturned %+v\nmaster   %+v\nwant     %+v", got, w.cluster.Schedule(), want)
	}
	if !got.Windows[0].Indefinite || !got.Windows[0].Start.Equal(t0.Add(time.Hour)) {
		t.Errorf("operator's window changed: %+v", got.Windows[0])
	}

	st, err := w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mesos.MachineID{ops, agentA, agentB} {
		if !st.IsDraining(m) {
			t.Errorf("status %+v: %v not draining", st, m)
		}
	}
	if len(st.Draining) != 3 || len(st.Down) != 0 {
		t.Errorf("status: %d draining, %d down, want 3 and 0", len(st.Draining), len(st.Down))
	}
	draining := map[string]bool{}
	for _, a := range w.cluster.Agents() {
		draining[a.IP] = a.Draining
	}
	if !maps.Equal(draining, map[string]bool{"10.0.1.1": true, "10.0.1.2": true, "10.0.1.3": false}) {
		t.Errorf("draining agents %v, want 10.0.1.1 and 10.0.1.2", draining)
	}
	// Mesos 1.x does not show maintenance in /master/state: the decoder reports no draining.
	for id, a := range w.agents(t) {
		if a.Draining || !a.Active {
			t.Errorf("state shows agent %v draining %v active %v, want false true", id, a.Draining, a.Active)
		}
	}

	// Adding again changes nothing and posts nothing.
	w.cluster.ResetRequests()
	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentB}, t0, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	if n := w.cluster.Requests(fakemesos.RoleLeader, mesos.PathMaintenanceSchedule); n != 1 {
		t.Errorf("a no-op update sent %d schedule requests, want 1 (one read)", n)
	}

	// Without removes ours only.
	got, err = w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.Without([]mesos.MachineID{agentA, agentB})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(operatorSchedule()) || !w.cluster.Schedule().Equal(operatorSchedule()) {
		t.Errorf("after Without: %+v, want only the operator's window", w.cluster.Schedule())
	}
	for _, a := range w.cluster.Agents() {
		if a.Draining || !a.AcceptsTasks {
			t.Errorf("agent %s still draining after Without", a.IP)
		}
	}
}

func TestMaintenanceErrorsCarryTheMastersText(t *testing.T) {
	w := newMaintWorld(t, 2)
	ctx := context.Background()

	err := w.client.MachinesDown(ctx, []mesos.MachineID{agentA})
	var se *mesos.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || se.Method != http.MethodPost {
		t.Fatalf("MachinesDown of an unscheduled machine: %v, want a 400 StatusError of a POST", err)
	}
	wantText := `Machine '{"hostname":"ip-10-0-1-1.ec2.internal","ip":"10.0.1.1"}' is not part of a maintenance schedule`
	if se.Body != wantText || !strings.Contains(err.Error(), wantText) || !strings.Contains(err.Error(), "POST "+w.leader+mesos.PathMachineDown) {
		t.Errorf("error %q\nbody %q\nwant the body %q and the endpoint", err, se.Body, wantText)
	}

	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA}, t0, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	err = w.client.MachinesUp(ctx, []mesos.MachineID{agentA})
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest ||
		se.Body != `Machine '{"hostname":"ip-10-0-1-1.ec2.internal","ip":"10.0.1.1"}' is not in DOWN mode and cannot be brought up` {
		t.Errorf("MachinesUp of a DRAINING machine: %v", err)
	}

	if err := w.client.MachinesDown(ctx, []mesos.MachineID{agentA}); err != nil {
		t.Fatal(err)
	}
	err = w.client.MachinesDown(ctx, []mesos.MachineID{agentA})
	if !errors.As(err, &se) || !strings.HasSuffix(se.Body, "is not in DRAINING mode and cannot be brought down") {
		t.Errorf("MachinesDown twice: %v", err)
	}
	// A schedule that drops a DOWN machine is refused, and the master keeps its schedule.
	err = w.client.PostSchedule(ctx, mesos.Schedule{})
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest ||
		se.Body != `Machine '{"hostname":"ip-10-0-1-1.ec2.internal","ip":"10.0.1.1"}' is deactivated and cannot be removed from the schedule` {
		t.Errorf("posting a schedule without the DOWN machine: %v", err)
	}
	if !w.cluster.Schedule().Contains(agentA) {
		t.Errorf("the refused schedule changed the master's: %+v", w.cluster.Schedule())
	}

	// Invalid lists never reach the master.
	w.cluster.ResetRequests()
	for _, ids := range [][]mesos.MachineID{{{}}, {agentB, agentB}, {{IP: "10.0.0.300"}}} {
		if err := w.client.MachinesDown(ctx, ids); err == nil {
			t.Errorf("MachinesDown(%v) succeeded", ids)
		}
	}
	if err := w.client.MachinesUp(ctx, nil); err != nil {
		t.Errorf("MachinesUp(nil) = %v, want nil", err)
	}
	if n := w.cluster.Requests(fakemesos.RoleLeader, mesos.PathMachineDown) + w.cluster.Requests(fakemesos.RoleLeader, mesos.PathMachineUp); n != 0 {
		t.Errorf("%d requests for invalid or empty lists, want 0", n)
	}
}

func TestMachineDownThenUp(t *testing.T) {
	w := newMaintWorld(t, 2)
	ctx := context.Background()
	before := w.agents(t)
	oldID := before[agentA].ID
	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA}, t0, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.client.MachinesDown(ctx, []mesos.MachineID{agentA}); err != nil {
		t.Fatalf("MachinesDown: %v", err)
	}
	st, err := w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDown(agentA) || st.IsDraining(agentA) || len(st.Down) != 1 || len(st.Draining) != 0 {
		t.Errorf("status after down: %+v, want only %v down", st, agentA)
	}
	// The agent is gone, and does not register again while its machine is DOWN.
	w.clock.Step(10 * time.Minute)
	if _, ok := w.agents(t)[agentA]; ok {
		t.Errorf("agent of the DOWN machine still registered")
	}
	if !w.cluster.Schedule().Contains(agentA) {
		t.Errorf("a DOWN machine left the schedule: %+v", w.cluster.Schedule())
	}

	if err := w.client.MachinesUp(ctx, []mesos.MachineID{agentA}); err != nil {
		t.Fatalf("MachinesUp: %v", err)
	}
	s, err := w.client.GetSchedule(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Windows) != 0 || s.Contains(agentA) {
		t.Errorf("schedule after up: %+v, want empty", s)
	}
	st, err = w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Draining)+len(st.Down) != 0 {
		t.Errorf("status after up: %+v, want empty", st)
	}
	// The machine still runs: its agent may register again, under a new id.
	if a, ok := w.agents(t)[agentA]; !ok || a.ID == oldID {
		t.Errorf("after up: agent %+v (registered %v), want a new agent id, not %s", a, ok, oldID)
	}
}

// TestDrainMovesTasks: /web/api's 3 tasks (2.1 cores each with the executor) fill S0 first-fit.
// S0 drains: they stay for DrainMoveAfter (60 s), then Marathon moves them to S1, which holds 3.
// Nothing is killed.
func TestDrainMovesTasks(t *testing.T) {
	api := fakemesos.Application{ID: "/web/api", CPUs: 2, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}}
	w := newMaintWorld(t, 3, api)
	ctx := context.Background()
	if got := w.tasks(); got["S0"]["/web/api"] != 3 {
		t.Fatalf("tasks %v, want 3 on S0", got)
	}
	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA}, t0.Add(10*time.Minute), time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Step(59 * time.Second)
	if got := w.tasks(); got["S0"]["/web/api"] != 3 {
		t.Fatalf("at +59s: tasks %v, want 3 still on S0", got)
	}
	w.clock.Step(time.Second)
	got := w.tasks()
	if got["S0"]["/web/api"] != 0 || got["S1"]["/web/api"] != 3 || got["S2"]["/web/api"] != 0 {
		t.Errorf("at +60s: tasks %v, want S0 0, S1 3", got)
	}
	if k := w.cluster.KilledTasks(); len(k) != 0 {
		t.Errorf("killed %v, want none", k)
	}
	if m := w.cluster.MovedTasks(); !maps.Equal(m, map[string]int{"/web/api": 3}) {
		t.Errorf("moved %v, want 3 of /web/api", m)
	}
	st, err := w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Draining) != 1 || len(st.Draining[0].Statuses) != 1 || st.Draining[0].Statuses[0].Status != "ACCEPT" ||
		st.Draining[0].Statuses[0].FrameworkID != fakemesos.DefaultClusterID+"-0001" || !st.Draining[0].Statuses[0].Timestamp.Equal(t0) {
		t.Errorf("status %+v, want Marathon's ACCEPT at t0 for %v", st, agentA)
	}
}

// TestIgnoredInverseOffersKeepTaskUntilDown: /data/cache (1 core, 1.1 with the executor) lands
// on S0 after the 3 api tasks (6.3 + 1.1 ≤ 8). S0 drains: the api tasks move to S1, the cache
// task stays and Marathon declines. Taking S0 down loses it: 1 killed, launched again on S1
// (6.3 + 1.1 ≤ 8).
func TestIgnoredInverseOffersKeepTaskUntilDown(t *testing.T) {
	api := fakemesos.Application{ID: "/web/api", CPUs: 2, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}}
	cache := fakemesos.Application{ID: "/data/cache", CPUs: 1, MemMiB: 512, Schedule: []fakemesos.Step{{Instances: 1}}, IgnoresInverseOffers: true}
	w := newMaintWorld(t, 2, api, cache)
	ctx := context.Background()
	if got := w.tasks(); !maps.Equal(got["S0"], map[string]int{"/web/api": 3, "/data/cache": 1}) {
		t.Fatalf("tasks %v, want 3 api and the cache on S0", got)
	}
	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA}, t0, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Step(time.Hour)
	got := w.tasks()
	if !maps.Equal(got["S0"], map[string]int{"/data/cache": 1}) || got["S1"]["/web/api"] != 3 {
		t.Fatalf("after an hour: tasks %v, want the cache alone on S0, 3 api on S1", got)
	}
	st, err := w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Draining) != 1 || len(st.Draining[0].Statuses) != 1 || st.Draining[0].Statuses[0].Status != "DECLINE" {
		t.Errorf("status %+v, want Marathon's DECLINE", st)
	}
	if k := w.cluster.KilledTasks(); len(k) != 0 {
		t.Fatalf("killed %v before down, want none", k)
	}

	if err := w.client.MachinesDown(ctx, []mesos.MachineID{agentA}); err != nil {
		t.Fatal(err)
	}
	if k := w.cluster.KilledTasks(); !maps.Equal(k, map[string]int{"/data/cache": 1}) {
		t.Errorf("killed %v, want 1 of /data/cache", k)
	}
	if m := w.cluster.MovedTasks(); !maps.Equal(m, map[string]int{"/web/api": 3}) {
		t.Errorf("moved %v, want 3 of /web/api", m)
	}
	if got := w.tasks(); len(got) != 1 || !maps.Equal(got["S1"], map[string]int{"/web/api": 3, "/data/cache": 1}) {
		t.Errorf("after down: tasks %v, want everything on S1", got)
	}
}

func TestEndMaintenance(t *testing.T) {
	w := newMaintWorld(t, 3)
	ctx := context.Background()
	agentC := mesos.MachineID{Hostname: "ip-10-0-1-3.ec2.internal", IP: "10.0.1.3"}
	postRaw(t, w.leader+mesos.PathMaintenanceSchedule,
		`{"windows":[{"machine_ids":[{"hostname":"db-7.example","ip":"10.0.9.7"}],"unavailability":{"start":{"nanoseconds":`+
			fmt.Sprint(t0.Add(time.Hour).UnixNano())+`}}}]}`)
	if _, err := w.client.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule {
		return s.WithWindow([]mesos.MachineID{agentA, agentB}, t0, time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.client.MachinesDown(ctx, []mesos.MachineID{agentA}); err != nil {
		t.Fatal(err)
	}
	// agentA is DOWN, agentB DRAINING, agentC not in maintenance.
	if err := w.client.EndMaintenance(ctx, []mesos.MachineID{agentA, agentB, agentC}); err != nil {
		t.Fatalf("EndMaintenance: %v", err)
	}
	if s := w.cluster.Schedule(); !s.Equal(operatorSchedule()) {
		t.Errorf("schedule %+v, want only the operator's window", s)
	}
	st, err := w.client.MaintenanceStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Down) != 0 || len(st.Draining) != 1 || !st.IsDraining(ops) {
		t.Errorf("status %+v, want only the operator's machine draining", st)
	}
	// Idempotent.
	if err := w.client.EndMaintenance(ctx, []mesos.MachineID{agentA, agentB}); err != nil {
		t.Errorf("EndMaintenance again: %v", err)
	}
}

// TestMaintenanceFollowsRedirectWithBodyAndCredentials: a master that leadership left answers
// the POST with 307 to the leader; the client sends the body and the credentials again.
func TestMaintenanceFollowsRedirectWithBodyAndCredentials(t *testing.T) {
	clk := testingclock.NewFakeClock(t0)
	c, err := fakemesos.New(fakemesos.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ls := httptest.NewUnstartedServer(nil)
	lm := c.NewMaster(ls.Listener.Addr().String())
	var mu sync.Mutex
	var auths []string
	ls.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		lm.ServeHTTP(w, r)
	})
	ls.Start()
	defer ls.Close()
	// Too old for /master/redirect (404: taken as is), and no longer leading.
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/master/redirect" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Location", "//"+lm.Addr()+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer stale.Close()
	creds, err := mesos.ParseCredentials("ops:s3cret")
	if err != nil {
		t.Fatal(err)
	}
	client, err := mesos.NewClient([]string{stale.URL}, mesos.WithCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	want := operatorSchedule()
	if err := client.PostSchedule(context.Background(), want); err != nil {
		t.Fatalf("PostSchedule: %v", err)
	}
	if got := c.Schedule(); !got.Equal(want) {
		t.Errorf("leader's schedule %+v, want %+v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(auths, []string{"POST " + mesos.PathMaintenanceSchedule + " " + creds.Authorization()}) {
		t.Errorf("leader got %q, want one authenticated POST", auths)
	}
}

// conflictingMaster serves the leader lm, but before answering the schedule GETs listed in
// intrudeOn (1-based count) it plays another operator adding a machine to the schedule by
// read-modify-write: from the current schedule, or with stale set, from the one the first GET
// saw (a write that undoes whatever was posted since).
type conflictingMaster struct {
	lm        *fakemesos.Master
	intrudeOn map[int]bool
	stale     bool
	mu        sync.Mutex
	first     []byte // the schedule as the first GET found it
	gets      int
	posts     int
}

func (m *conflictingMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == mesos.PathMaintenanceSchedule {
		m.mu.Lock()
		if r.Method == http.MethodPost {
			m.posts++
		} else {
			m.gets++
			if m.gets == 1 {
				m.first = m.get()
			}
			if m.intrudeOn[m.gets] {
				m.intrude(m.gets)
			}
		}
		m.mu.Unlock()
	}
	m.lm.ServeHTTP(w, r)
}

func (m *conflictingMaster) get() []byte {
	rec := httptest.NewRecorder()
	m.lm.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, mesos.PathMaintenanceSchedule, nil))
	return rec.Body.Bytes()
}

// intrude adds machine intruder-<n> (10.0.8.<n>) to the leader's schedule. Called with m.mu
// held.
func (m *conflictingMaster) intrude(n int) {
	doc := m.get()
	if m.stale {
		doc = m.first
	}
	var s mesos.Schedule
	if err := json.Unmarshal(doc, &s); err != nil {
		return // the recorded answers are the fake's JSON; a failure shows in the assertions
	}
	s = s.WithWindow([]mesos.MachineID{{Hostname: fmt.Sprintf("intruder-%d", n), IP: fmt.Sprintf("10.0.8.%d", n)}}, t0, time.Hour)
	body, err := json.Marshal(s)
	if err != nil {
		return
	}
	m.posts++
	m.lm.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, mesos.PathMaintenanceSchedule, bytes.NewReader(body)))
}

func (m *conflictingMaster) postCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.posts
}

func serveConflicting(t *testing.T, stale bool, intrudeOn ...int) (*fakemesos.Cluster, *conflictingMaster, *mesos.Client) {
	t.Helper()
	c, err := fakemesos.New(fakemesos.Options{Clock: testingclock.NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	cm := &conflictingMaster{lm: c.NewMaster(srv.Listener.Addr().String()), intrudeOn: map[int]bool{}, stale: stale}
	for _, n := range intrudeOn {
		cm.intrudeOn[n] = true
	}
	srv.Config.Handler = cm
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := mesos.NewClient([]string{srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, cm, client
}

func addAgentA(s mesos.Schedule) mesos.Schedule {
	return s.WithWindow([]mesos.MachineID{agentA}, t0, time.Hour)
}

// TestUpdateScheduleRetriesOnConcurrentChange: another operator adds a machine just before our
// second read (GET 2); UpdateSchedule starts over (GETs 3, 4, post, GET 5) and both machines
// stay.
func TestUpdateScheduleRetriesOnConcurrentChange(t *testing.T) {
	c, cm, client := serveConflicting(t, false, 2)
	got, err := client.UpdateSchedule(context.Background(), addAgentA)
	if err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	intruder := mesos.MachineID{Hostname: "intruder-2", IP: "10.0.8.2"}
	if !got.Contains(agentA) || !got.Contains(intruder) || len(got.Windows) != 2 || !c.Schedule().Equal(got) {
		t.Errorf("schedule %+v, want %v and %v", c.Schedule(), agentA, intruder)
	}
	if n := cm.postCount(); n != 2 {
		t.Errorf("%d schedule POSTs, want 2 (the intruder's and ours)", n)
	}
}

// TestUpdateScheduleGivesUpUnderConstantChange: the schedule changes before every second read,
// so UpdateSchedule never posts and gives up after 3 attempts.
func TestUpdateScheduleGivesUpUnderConstantChange(t *testing.T) {
	c, cm, client := serveConflicting(t, false, 2, 4, 6)
	_, err := client.UpdateSchedule(context.Background(), addAgentA)
	if !errors.Is(err, mesos.ErrScheduleConflict) {
		t.Fatalf("UpdateSchedule = %v, want ErrScheduleConflict", err)
	}
	if n := cm.postCount(); n != 3 {
		t.Errorf("%d schedule POSTs, want 3 (the intruder's only)", n)
	}
	if c.Schedule().Contains(agentA) {
		t.Errorf("schedule %+v holds %v after giving up", c.Schedule(), agentA)
	}
}

// TestUpdateScheduleDetectsLostWrite: after our POST, another operator posts a schedule built
// from an older read (GET 3, the read-back), which drops our window. UpdateSchedule sees its
// machine missing and writes again from a fresh read: both machines end up scheduled.
func TestUpdateScheduleDetectsLostWrite(t *testing.T) {
	c, cm, client := serveConflicting(t, true, 3)
	got, err := client.UpdateSchedule(context.Background(), addAgentA)
	if err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	intruder := mesos.MachineID{Hostname: "intruder-3", IP: "10.0.8.3"}
	if !got.Contains(agentA) || !got.Contains(intruder) || !c.Schedule().Equal(got) {
		t.Errorf("schedule %+v, want %v and %v", c.Schedule(), agentA, intruder)
	}
	if n := cm.postCount(); n != 3 {
		t.Errorf("%d schedule POSTs, want 3 (ours, the intruder's, ours again)", n)
	}
}
