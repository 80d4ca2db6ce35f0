package controllers_test

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

// drainScenario: 3 agents (8 cores), /web (1 core) × 3 placed first-fit on S1, then one /web
// task forced onto the third agent: S1 runs 2, the second agent none, the third 1. Used 3.3 of
// 24 cores = 13.75 %. With maxNodesPerStep 2 the planner drains the idle agent (after: 3.3/16 =
// 20.6 %) and the busy third one (before 20.6 % < 40 %, after 3.3/8 = 41 % ≤ 80 %, its task fits
// on S1).
type drainScenario struct {
	*scenario
	s1, idle, busy fakemesos.AgentView
	killedBefore   int
	dir            string
}

func newDrainScenario(t *testing.T, extra ...string) *drainScenario {
	t.Helper()
	return newDrainScenarioApps(t, []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}}}, extra...)
}

func newDrainScenarioApps(t *testing.T, apps []fakemesos.Application, extra ...string) *drainScenario {
	t.Helper()
	env, err := simenv.New(simenv.Options{
		Start:        t0,
		Groups:       []simenv.Group{{Name: group, MinSize: 1, MaxSize: 10, DesiredCapacity: 3, InstanceType: "m5.2xlarge"}},
		Applications: apps,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	ds := &drainScenario{scenario: &scenario{env: env}, dir: t.TempDir()}
	agents := env.Mesos.Agents()
	sort.Slice(agents, func(i, j int) bool {
		return agents[i].RegisteredTime.Before(agents[j].RegisteredTime) || (agents[i].RegisteredTime.Equal(agents[j].RegisteredTime) && agents[i].ID < agents[j].ID)
	})
	if len(agents) != 3 {
		t.Fatalf("%d agents", len(agents))
	}
	ds.s1 = agents[0]
	var others []fakemesos.AgentView
	for _, a := range agents[1:] {
		if a.Tasks == 0 {
			others = append(others, a)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].ID < others[j].ID })
	ds.idle, ds.busy = others[0], others[1]
	if err := env.Mesos.ForcePlace("/web", ds.busy.ID); err != nil {
		t.Fatal(err)
	}
	ds.killedBefore = total(env.Mesos.KilledTasks())
	yaml := policyYAMLWith(0, 0, extra...)
	yaml = strings.Replace(yaml, "    stabilizationSeconds: 0\n", "    stabilizationSeconds: 0\n    maxNodesPerStep: 2\n", 1)
	ds.restart(t, yaml)
	return ds
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// restart builds a new controller on the same status directory, as after a crash.
func (ds *drainScenario) restart(t *testing.T, yaml string, crash ...func(string) bool) {
	t.Helper()
	loaded, errs := policy.LoadData("general.yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ds.env.Rewire(loaded[0].Policy)
	st, err := store.New(ds.dir)
	if err != nil {
		t.Fatal(err)
	}
	ds.store = st
	opts := controllers.Options{Clock: ds.env.Clock, Log: logr.Discard(), Store: st, Provider: ds.env.Provider}
	if len(crash) > 0 {
		opts.Crash = crash[0]
	}
	c, perrs, err := controllers.New(opts, loaded)
	if err != nil || len(perrs) > 0 {
		t.Fatal(err, perrs)
	}
	ds.ctrl = c
}

func (ds *drainScenario) killed() int { return total(ds.env.Mesos.KilledTasks()) - ds.killedBefore }

func (ds *drainScenario) terminated() []string {
	var ids []string
	for _, c := range ds.env.AWS.Calls() {
		if c.Action == "TerminateInstanceInAutoScalingGroup" && c.Code == "" {
			ids = append(ids, c.Params["InstanceId"])
		}
	}
	return ids
}

func TestDrainBusyAgentNoTaskKilled(t *testing.T) {
	ds := newDrainScenario(t)
	r := ds.reconcile(t)
	if r.Err != nil || r.Decision.Direction != planner.ScaleDown || len(r.Decision.ScaleDownAgents) != 2 {
		t.Fatalf("%v %+v", r.Err, r.Decision)
	}
	// Both drains start at once; the idle agent's instance is terminated in the same pass.
	if got := ds.terminated(); len(got) != 1 || got[0] != ds.idle.InstanceID {
		t.Fatalf("terminated %v, want only the idle %s", got, ds.idle.InstanceID)
	}
	sched := ds.env.Mesos.Schedule()
	if len(sched.Machines()) != 2 {
		t.Fatalf("schedule holds %v", sched.Machines())
	}
	p := ds.status(t)
	if len(p.Status.Drains) != 2 {
		t.Fatalf("drains %+v", p.Status.Drains)
	}
	// The framework moves the busy agent's task after 60 s; then the agent is empty and goes.
	for i := 0; i < 4 && len(ds.status(t).Status.Drains) > 0; i++ {
		ds.env.Advance(time.Minute, time.Second)
		if r = ds.reconcile(t); r.Err != nil {
			t.Fatalf("reconcile %d: %v", i, r.Err)
		}
	}
	got := ds.terminated()
	sort.Strings(got)
	want := []string{ds.idle.InstanceID, ds.busy.InstanceID}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("terminated %v, want %v", got, want)
	}
	if k := ds.killed(); k != 0 {
		t.Errorf("%d tasks killed", k)
	}
	if m := ds.env.Mesos.MovedTasks()["/web"]; m != 1 {
		t.Errorf("%d /web tasks moved, want 1", m)
	}
	if left := ds.env.Mesos.Schedule().Machines(); len(left) != 0 {
		t.Errorf("maintenance schedule still holds %v", left)
	}
	if g := ds.group(t); g.DesiredCapacity != 1 {
		t.Errorf("desired %d, want 1", g.DesiredCapacity)
	}
}

func TestDrainTimeout(t *testing.T) {
	// /sticky ignores inverse offers: its task on the busy agent never moves.
	apps := []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}, IgnoresInverseOffers: true}}
	for _, action := range []string{"Abort", "Force"} {
		t.Run(action, func(t *testing.T) {
			ds := newDrainScenarioApps(t, apps)
			yaml := strings.Replace(policyYAMLWith(0, 0), "    stabilizationSeconds: 0\n",
				"    stabilizationSeconds: 0\n    maxNodesPerStep: 2\n    drainTimeoutSeconds: 300\n    drainTimeoutAction: "+action+"\n", 1)
			ds.restart(t, yaml)
			ds.reconcile(t)
			for i := 0; i < 5; i++ { // 5 minutes: the deadline passes
				ds.env.Advance(time.Minute, time.Second)
				ds.reconcile(t)
			}
			terminated := strings.Join(ds.terminated(), ",")
			switch action {
			case "Abort":
				if strings.Contains(terminated, ds.busy.InstanceID) || ds.killed() != 0 {
					t.Fatalf("Abort terminated %s, killed %d", terminated, ds.killed())
				}
				if ds.env.Mesos.Schedule().Contains(machineOf(ds.busy)) {
					t.Error("the busy agent is still in the maintenance schedule after Abort")
				}
			case "Force":
				if !strings.Contains(terminated, ds.busy.InstanceID) {
					t.Fatalf("Force did not terminate %s (terminated %s)", ds.busy.InstanceID, terminated)
				}
			}
		})
	}
}

func TestTaskArrivesDuringDrain(t *testing.T) {
	// /db/primary (protected by the prefix /db/) has one task, placed first-fit on S1 (the
	// /web tasks fill S1 after it). The busy agent starts draining; its /web task moves away
	// after 60 s, but the scheduler puts a /db/primary task there first: the drain is aborted
	// and undrained, nothing is terminated there and nothing is killed.
	apps := []fakemesos.Application{
		{ID: "/db/primary", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 1}}},
		{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}},
	}
	ds := newDrainScenarioApps(t, apps)
	yaml := strings.Replace(policyYAMLWith(0, 0), "    stabilizationSeconds: 0\n",
		"    stabilizationSeconds: 0\n    maxNodesPerStep: 2\n    protectedApplications: [/db/]\n", 1)
	ds.restart(t, yaml)
	ds.reconcile(t)
	if d := ds.status(t).Status.Drains; len(d) != 2 {
		t.Fatalf("drains %+v", d)
	}
	ds.env.Advance(30*time.Second, time.Second)
	if err := ds.env.Mesos.ForcePlace("/db/primary", ds.busy.ID); err != nil {
		t.Fatal(err)
	}
	r := ds.reconcile(t)
	for _, d := range ds.status(t).Status.Drains {
		if d.AgentID == ds.busy.ID {
			t.Fatalf("still draining the agent with a protected task: %+v (%v)", d, r.Err)
		}
	}
	if ds.env.Mesos.Schedule().Contains(machineOf(ds.busy)) {
		t.Error("the agent is still in the maintenance schedule")
	}
	for i := 0; i < 3; i++ {
		ds.env.Advance(time.Minute, time.Second)
		ds.reconcile(t)
	}
	if strings.Contains(strings.Join(ds.terminated(), ","), ds.busy.InstanceID) || ds.killed() != 0 {
		t.Fatalf("terminated %v, killed %d", ds.terminated(), ds.killed())
	}
}

func TestDemandReturnsMidDrain(t *testing.T) {
	// A drain with tasks that never move (inverse offers ignored), then demand: 14 tasks of
	// /burst arrive. The draining agent is given back first.
	apps := []fakemesos.Application{
		{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 3}}, IgnoresInverseOffers: true},
		{ID: "/burst", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 0}, {At: 3 * time.Minute, Instances: 8}}},
	}
	ds := newDrainScenarioApps(t, apps)
	ds.reconcile(t)
	if d := ds.status(t).Status.Drains; len(d) != 2 || d[1].AgentID != ds.busy.ID || d[1].Phase != "Draining" {
		t.Fatalf("drains %+v", d)
	}
	ds.env.Advance(2*time.Minute, time.Second) // /burst arrives at +3 min of the cluster clock
	r := ds.reconcile(t)
	if r.Err != nil || len(r.Decision.UndrainAgents) != 1 || r.Decision.UndrainAgents[0] != ds.busy.ID {
		t.Fatalf("%v undrain %v; %+v", r.Err, r.Decision.UndrainAgents, r.Decision.Reasons)
	}
	for _, d := range ds.status(t).Status.Drains {
		if d.AgentID == ds.busy.ID {
			t.Fatalf("the drain was not rolled back: %+v", d)
		}
	}
	if ds.env.Mesos.Schedule().Contains(machineOf(ds.busy)) {
		t.Fatal("the busy agent is still in the maintenance schedule")
	}
	if strings.Contains(strings.Join(ds.terminated(), ","), ds.busy.InstanceID) || ds.killed() != 0 {
		t.Fatal("the busy agent was removed")
	}
}

func TestTerminateRefusedUndrains(t *testing.T) {
	ds := newDrainScenario(t)
	ds.reconcile(t) // idle agent terminated; busy one draining; desired 2
	// The operator raises MinSize to 2: removing the busy agent would go below it.
	awsAction(t, ds.env, "UpdateAutoScalingGroup", "AutoScalingGroupName", group, "MinSize", "2")
	ds.env.Advance(2*time.Minute, time.Second)
	r := ds.reconcile(t)
	if strings.Contains(strings.Join(ds.terminated(), ","), ds.busy.InstanceID) {
		t.Fatal("terminated below MinSize")
	}
	if len(ds.status(t).Status.Drains) != 0 || ds.env.Mesos.Schedule().Contains(machineOf(ds.busy)) {
		t.Fatalf("not undrained: %v %+v", r.Err, ds.status(t).Status.Drains)
	}
	if c := condition(t, ds.status(t), controllers.ConditionAbleToScale); c.Status != metav1.ConditionFalse {
		t.Errorf("AbleToScale %s %s", c.Status, c.Message)
	}
}

func TestSixIdleAgentsDrainInParallel(t *testing.T) {
	env, err := simenv.New(simenv.Options{Start: t0, Groups: []simenv.Group{{Name: group, MinSize: 1, MaxSize: 10, DesiredCapacity: 8, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 7}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	s := &scenario{env: env}
	// 7.7 of 64 cores: the 7 idle agents may go down to the minimum 2 (one idle agent stays
	// below 40 %: 7.7/16 = 48 % stops at... the 6th removal leaves 2 agents: 7.7/16).
	s.start(t, strings.Replace(policyYAMLWith(0, 0), "    stabilizationSeconds: 0\n", "    stabilizationSeconds: 0\n    maxNodesPerStep: 6\n", 1), t.TempDir())
	r := s.reconcile(t)
	if r.Err != nil || len(r.Decision.ScaleDownAgents) != 6 {
		t.Fatalf("%v victims %v; %v", r.Err, r.Decision.ScaleDownAgents, r.Decision.Reasons)
	}
	if n := s.env.AWS.SuccessCount("TerminateInstanceInAutoScalingGroup"); n != 6 {
		t.Fatalf("%d terminated in the first pass, want 6", n)
	}
}

func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{controllers.StepIntentRecorded, controllers.StepWindowPosted, controllers.StepTerminated, controllers.StepMachineDown, controllers.StepMaintenanceEnd} {
		t.Run(step, func(t *testing.T) {
			ds := newDrainScenario(t)
			yaml := strings.Replace(policyYAMLWith(0, 0), "    stabilizationSeconds: 0\n", "    stabilizationSeconds: 0\n    maxNodesPerStep: 2\n", 1)
			crashed := false
			ds.restart(t, yaml, func(s string) bool {
				if s == step && !crashed {
					crashed = true
					return true
				}
				return false
			})
			for i := 0; i < 10 && !crashed; i++ {
				ds.reconcile(t)
				ds.env.Advance(time.Minute, time.Second)
			}
			if !crashed {
				t.Fatalf("never reached %s", step)
			}
			// A new controller on the same status finishes the work.
			ds.restart(t, yaml)
			for i := 0; i < 8; i++ {
				ds.reconcile(t)
				ds.env.Advance(time.Minute, time.Second)
			}
			got := ds.terminated()
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("instance %s terminated twice: %v", id, got)
				}
				seen[id] = true
			}
			if len(got) != 2 || ds.killed() != 0 {
				t.Fatalf("terminated %v, killed %d", got, ds.killed())
			}
			if left := ds.env.Mesos.Schedule().Machines(); len(left) != 0 {
				t.Fatalf("machines left in maintenance: %v", left)
			}
			if d := ds.status(t).Status.Drains; len(d) != 0 {
				t.Fatalf("drains left in status: %+v", d)
			}
		})
	}
}

// machineOf is the maintenance machine id of a simulated agent (hostname and IP as it reports them).
func machineOf(a fakemesos.AgentView) mesos.MachineID {
	return mesos.MachineID{Hostname: a.Hostname, IP: a.IP}
}

// awsAction sends one Auto Scaling action to the fake endpoint over HTTP, as an operator's
// aws CLI would.
func awsAction(t *testing.T, env *simenv.Env, action string, kv ...string) {
	t.Helper()
	form := url.Values{"Action": {action}, "Version": {fakeaws.AutoScalingVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	resp, err := http.PostForm(env.AWSURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s: %s", action, resp.Status, b)
	}
}

// TestShrinkBySixWithDefaults measures how long a pool of 10 takes to lose 6 agents with the
// default settings (stabilization 600 s, one agent per step, interval 60 s): /web runs 5
// tasks of 2 cores (2.1 with the executor) placed first-fit, 3 on the first agent and 2 on
// the second; the other 8 are idle.
func TestShrinkBySixWithDefaults(t *testing.T) {
	env, err := simenv.New(simenv.Options{Start: t0,
		Groups:       []simenv.Group{{Name: group, MinSize: 1, MaxSize: 20, DesiredCapacity: 10, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 2, MemMiB: 2048, Schedule: []fakemesos.Step{{Instances: 5}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	s := &scenario{env: env}
	s.start(t, `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata: {name: general}
spec:
  mesos: {masters: ["http://127.0.0.1:1"]}
  autoScalingGroup: {name: `+group+`}
`, t.TempDir())
	start := env.Clock.Now()
	var done time.Duration
	for i := 0; i < 40; i++ {
		if r := s.reconcile(t); r.Err != nil {
			t.Fatalf("reconcile %d: %v", i, r.Err)
		}
		if g := s.group(t); g.DesiredCapacity <= 4 && done == 0 {
			done = env.Clock.Now().Sub(start)
		}
		env.Advance(time.Minute, time.Second)
	}
	// 10.5 cores of work: below 40 % down to 4 agents (10.5/32 = 33 %), and one more (10.5/24
	// = 44 % stops the next): 7 removals in all; the 6th lands after 10 minutes of
	// stabilization and one removal per reconcile.
	if g := s.group(t); g.DesiredCapacity != 3 || done == 0 {
		t.Fatalf("desired %d after 40 minutes", g.DesiredCapacity)
	}
	if k := total(env.Mesos.KilledTasks()); k != 0 {
		t.Errorf("%d tasks killed", k)
	}
	t.Logf("shrank by 6 agents in %s of simulated time with the default settings", done)
	if done > 20*time.Minute {
		t.Errorf("took %s", done)
	}
}

// TestProtectedAppRunningElsewhereDrains: /web is protected but also runs on S1, which stays:
// the busy agent drains to the end (no drain/undrain loop), its task moves, nothing is killed.
func TestProtectedAppRunningElsewhereDrains(t *testing.T) {
	ds := newDrainScenario(t)
	yaml := strings.Replace(policyYAMLWith(0, 0), "    stabilizationSeconds: 0\n",
		"    stabilizationSeconds: 0\n    maxNodesPerStep: 2\n    protectedApplications: [/web]\n", 1)
	ds.restart(t, yaml)
	undrains := 0
	for i := 0; i < 5; i++ {
		r := ds.reconcile(t)
		for _, a := range r.Acted {
			if strings.HasPrefix(a, "Undrain") {
				undrains++
			}
		}
		ds.env.Advance(time.Minute, time.Second)
	}
	if undrains != 0 || !strings.Contains(strings.Join(ds.terminated(), ","), ds.busy.InstanceID) || ds.killed() != 0 {
		t.Fatalf("undrains %d, terminated %v, killed %d", undrains, ds.terminated(), ds.killed())
	}
}

// TestPeriodicJobDoesNotOscillate: a job of 6 one-core tasks starts every 10 minutes and runs
// for 5, pushing the pool of 2 agents over a node boundary each time. The pool grows once for
// it; the scale-down recommendation never holds for the 600 s stabilization window, so no
// agent is drained and the group does not oscillate.
func TestPeriodicJobDoesNotOscillate(t *testing.T) {
	var steps []fakemesos.Step
	for m := 0; m < 70; m += 10 {
		steps = append(steps, fakemesos.Step{At: time.Duration(m)*time.Minute + 3*time.Minute, Instances: 6}, fakemesos.Step{At: time.Duration(m)*time.Minute + 8*time.Minute, Instances: 0})
	}
	env, err := simenv.New(simenv.Options{Start: t0,
		Groups: []simenv.Group{{Name: group, MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{
			{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: 7}}},
			{ID: "/job", CPUs: 1, MemMiB: 1024, Schedule: steps},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	s := &scenario{env: env}
	s.start(t, policyYAMLWith(0, 600), t.TempDir())
	for i := 0; i < 60; i++ {
		if r := s.reconcile(t); r.Err != nil {
			t.Fatalf("reconcile %d: %v", i, r.Err)
		}
		env.Advance(time.Minute, time.Second)
	}
	ups, downs := s.env.AWS.SuccessCount("SetDesiredCapacity"), s.env.AWS.SuccessCount("TerminateInstanceInAutoScalingGroup")
	if ups > 1 || downs != 0 {
		t.Fatalf("%d scale-ups and %d terminations in an hour of a periodic job", ups, downs)
	}
}
