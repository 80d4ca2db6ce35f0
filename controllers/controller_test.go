package controllers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
	"github.com/lambdascale/lambdascale/internal/store"
)

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

const group = "mesos-agents-general"

// scenario is a simulated cluster with one group, a controller and its status store.
type scenario struct {
	env   *simenv.Env
	ctrl  *controllers.Controller
	store *store.Store
}

// policyYAML is the test policy: thresholds 80/40 unless extra sets them, the given headroom
// and stabilization; extra lines are appended under spec (indented by two spaces).
func policyYAMLWith(headroom, stabilization int, extra ...string) string {
	return `apiVersion: lambdascale.io/v1alpha1
kind: ScalingPolicy
metadata:
  name: general
spec:
  mesos:
    masters: ["http://127.0.0.1:1"]
  autoScalingGroup:
    name: ` + group + `
  minNodes: 1
  maxNodes: 10
  applicationHeadroomPercent: ` + fmt.Sprint(headroom) + `
  scaleDown:
    stabilizationSeconds: ` + fmt.Sprint(stabilization) + `
` + strings.Join(extra, "\n") + "\n"
}

// policyYAML is policyYAMLWith no headroom and no stabilization.
func policyYAML(extra ...string) string { return policyYAMLWith(0, 0, extra...) }

// newScenario creates the group (min 1, max, desired), a workload of /web tasks of 1 core and
// 1024 MiB (agents: 8 cores, 30720 MiB; each task also takes 0.1 core and 32 MiB of executor),
// and advances 91 s so that the initial instances are Pending 30 s, InService, and registered
// 60 s later.
func newScenario(t *testing.T, max, desired int32, tasks int, yaml string) *scenario {
	t.Helper()
	env, err := simenv.New(simenv.Options{
		Start:  t0,
		Groups: []simenv.Group{{Name: group, MinSize: 1, MaxSize: max, DesiredCapacity: desired, InstanceType: "m5.2xlarge"}},
		Applications: []fakemesos.Application{
			{ID: "/web", CPUs: 1, MemMiB: 1024, Schedule: []fakemesos.Step{{Instances: tasks}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(91*time.Second, time.Second)
	s := &scenario{env: env}
	s.start(t, yaml, t.TempDir())
	return s
}

// start (re)creates the controller on the policy, with its status in dir.
func (s *scenario) start(t *testing.T, yaml, dir string) {
	t.Helper()
	loaded, errs := policy.LoadData("general.yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, l := range loaded {
		s.env.Rewire(l.Policy)
	}
	st, err := store.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.store = st
	s.ctrl, errs, err = controllers.New(controllers.Options{Clock: s.env.Clock, Log: logr.Discard(), Store: st, Provider: s.env.Provider}, loaded)
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
}

func (s *scenario) reconcile(t *testing.T) controllers.Result {
	t.Helper()
	rs := s.ctrl.ReconcileAll(context.Background())
	if len(rs) != 1 {
		t.Fatalf("%d results", len(rs))
	}
	return rs[0]
}

func (s *scenario) group(t *testing.T) fakeaws.GroupView {
	t.Helper()
	g, ok := s.env.AWS.Group(group)
	if !ok {
		t.Fatal("group gone")
	}
	return g
}

func (s *scenario) status(t *testing.T) *v1alpha1.ScalingPolicy {
	t.Helper()
	p, err := s.store.Get("general")
	if err != nil || p == nil {
		t.Fatalf("status: %v %v", p, err)
	}
	return p
}

func (s *scenario) writes() int {
	return s.env.AWS.CallCount("SetDesiredCapacity") + s.env.AWS.CallCount("TerminateInstanceInAutoScalingGroup")
}

func condition(t *testing.T, p *v1alpha1.ScalingPolicy, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(p.Status.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, p.Status.Conditions)
	}
	return *c
}

func hasReason(d *planner.Decision, r string) bool {
	if d == nil {
		return false
	}
	for _, x := range d.Reasons {
		if x.Reason == r {
			return true
		}
	}
	return false
}

func TestScaleUpFromUtilization(t *testing.T) {
	// 2 agents; 14 /web tasks: 7 per agent (7 × 1.1 = 7.7 of 8 cores). Used 15.4 of 16 cores =
	// 96.25 % > 80 %: n ≥ (100·15.4 − 80·16) / (80·8) = 0.41 → 1 node: desired 3.
	s := newScenario(t, 10, 2, 14, policyYAML())
	r := s.reconcile(t)
	if r.Err != nil || r.Decision.Direction != planner.ScaleUp || r.Decision.DesiredCapacity != 3 || !hasReason(r.Decision, planner.ReasonUtilizationHigh) {
		t.Fatalf("result %+v / %+v", r.Err, r.Decision)
	}
	if g := s.group(t); g.DesiredCapacity != 3 || len(g.Instances) != 3 {
		t.Fatalf("group desired %d with %d instances, want 3 and 3", g.DesiredCapacity, len(g.Instances))
	}

	// Status, field by field.
	p := s.status(t)
	if p.APIVersion != "lambdascale.io/v1alpha1" || p.Kind != "ScalingPolicy" || p.Name != "general" || p.Generation != 1 {
		t.Errorf("object meta %s %s %s gen %d", p.APIVersion, p.Kind, p.Name, p.Generation)
	}
	if *p.Spec.IntervalSeconds != 60 || *p.Spec.Utilization.ScaleUpPercent != 80 || p.Spec.Mode != v1alpha1.ModeEnforce || p.Spec.Mesos.Role != "*" {
		t.Errorf("spec not defaulted: %+v", p.Spec)
	}
	st := p.Status
	if st.ObservedGeneration != 1 || st.CurrentNodes != 2 || st.DesiredNodes != 3 || st.UpcomingNodes != 0 {
		t.Errorf("status nodes %+v", st)
	}
	now := t0.Add(91 * time.Second)
	if st.LastScaleTime == nil || !st.LastScaleTime.Time.Equal(now) || st.LastScaleUpTime == nil || !st.LastScaleUpTime.Time.Equal(now) {
		t.Errorf("lastScaleTime %v lastScaleUpTime %v, want %v", st.LastScaleTime, st.LastScaleUpTime, now)
	}
	if len(st.Utilization) != 2 || st.Utilization[0].Resource != "cpus" || st.Utilization[0].Used.String() != "15400m" ||
		st.Utilization[0].Total.String() != "16" || st.Utilization[0].Percent != 96 {
		t.Errorf("utilization %+v", st.Utilization)
	}
	// mem: 14 × (1024 + 32) = 14784 of 2 × 30720 = 61440 MiB → 24 %.
	if st.Utilization[1].Used.String() != "14784Mi" || st.Utilization[1].Total.String() != "60Gi" || st.Utilization[1].Percent != 24 {
		t.Errorf("mem utilization %+v", st.Utilization[1])
	}
	if st.LastDecision == nil || st.LastDecision.Direction != "ScaleUp" || st.LastDecision.CurrentNodes != 2 || st.LastDecision.DesiredNodes != 3 ||
		!st.LastDecision.Time.Time.Equal(now) || st.LastDecision.Reasons[len(st.LastDecision.Reasons)-1].Reason != planner.ReasonUtilizationHigh {
		t.Errorf("lastDecision %+v", st.LastDecision)
	}
	for typ, want := range map[string]struct {
		status metav1.ConditionStatus
		reason string
	}{
		controllers.ConditionReady:             {metav1.ConditionTrue, "Reconciled"},
		controllers.ConditionAbleToScale:       {metav1.ConditionTrue, "ScalingSucceeded"},
		controllers.ConditionScalingLimited:    {metav1.ConditionFalse, "WithinLimits"},
		controllers.ConditionObservationFailed: {metav1.ConditionFalse, "ObservationSucceeded"},
	} {
		c := condition(t, p, typ)
		if c.Status != want.status || c.Reason != want.reason || !c.LastTransitionTime.Time.Equal(now) || c.ObservedGeneration != 1 {
			t.Errorf("%s = %s/%s at %v, want %s/%s at %v", typ, c.Status, c.Reason, c.LastTransitionTime, want.status, want.reason, now)
		}
	}

	// While the new instance boots (Pending 30 s, then 60 s to register) it counts as upcoming
	// capacity: used 15.4 of 24 cores = 64 %, nothing more is added. At +90 s it is an agent.
	for i, upcoming := range []int{1, 1, 0} {
		s.env.Advance(30*time.Second, time.Second)
		r = s.reconcile(t)
		if r.Err != nil || r.Decision.Direction != planner.NoChange || s.group(t).DesiredCapacity != 3 ||
			r.Decision.UpcomingNodes != upcoming || r.Decision.PoolAgents != 3-upcoming ||
			r.Decision.Utilization[0].Total != 24 || r.Decision.NodesForUtilization != 0 {
			t.Fatalf("boot reconcile %d: %v %+v", i, r.Err, r.Decision)
		}
	}
	if n := s.env.AWS.SuccessCount("SetDesiredCapacity"); n != 1 {
		t.Errorf("%d SetDesiredCapacity calls, want 1", n)
	}
}

func TestScaleUpFromHeadroomAndSteadyState(t *testing.T) {
	// 2 agents, 12 /web tasks: first-fit puts 7 on the first agent (7.7 cores) and 5 on the
	// second (5.5): 13.2/16 = 82.5 % is under the 90 % threshold. Headroom 50 %: 6 copies of
	// 1 core; free 0.3 and 2.5 cores hold 2; the other 4 need one new 8-core node → 3.
	yaml := policyYAMLWith(50, 0, "  utilization: {scaleUpPercent: 90, scaleDownPercent: 40}")
	s := newScenario(t, 10, 2, 12, yaml)
	r := s.reconcile(t)
	if r.Err != nil || r.Decision.DesiredCapacity != 3 || r.Decision.NodesForDemand != 1 || !hasReason(r.Decision, planner.ReasonHeadroomShort) {
		t.Fatalf("%v %+v", r.Err, r.Decision)
	}
	if g := s.group(t); g.DesiredCapacity != 3 {
		t.Fatalf("group desired %d, want 3", g.DesiredCapacity)
	}
	// Let the instance register, then 20 reconciles of the unchanged cluster: no write at all,
	// one DescribeAutoScalingGroups each, and no DescribeInstances (no new instance).
	s.env.Advance(2*time.Minute, time.Second)
	s.reconcile(t)
	s.env.AWS.ResetCalls()
	for i := 0; i < 20; i++ {
		s.env.Advance(time.Minute, time.Second)
		r = s.reconcile(t)
		if r.Err != nil || r.Decision.Direction != planner.NoChange {
			t.Fatalf("steady reconcile %d: %v %+v", i, r.Err, r.Decision)
		}
	}
	if w := s.writes(); w != 0 {
		t.Errorf("%d AWS writes across 20 unchanged reconciles", w)
	}
	// The history keeps the scale-up and what changed after it, not 20 identical entries.
	h := s.status(t).Status.RecentDecisions
	if len(h) == 0 || len(h) > 4 || h[0].Direction != "ScaleUp" || len(h[0].Actions) != 1 || h[0].Actions[0] != "SetDesiredCapacity 2→3" {
		t.Errorf("recentDecisions %+v", h)
	}
	if n, m := s.env.AWS.CallCount("DescribeAutoScalingGroups"), s.env.AWS.CallCount("DescribeInstances"); n != 20 || m != 0 {
		t.Errorf("%d DescribeAutoScalingGroups and %d DescribeInstances calls, want 20 and 0", n, m)
	}
	if n := len(s.env.AWS.Calls()); n != 20 {
		t.Errorf("%d AWS calls in 20 steady reconciles, want 20", n)
	}
	// Leader discovery went through the standby each time; the state came from the leader.
	if a, b := s.env.Mesos.Requests(fakemesos.RoleStandby, "/master/state"), s.env.Mesos.Requests(fakemesos.RoleLeader, "/master/state"); a != 0 || b != 22 {
		t.Errorf("state requests: standby %d leader %d, want 0 and 22", a, b)
	}
}

func TestRemoveIdleAgent(t *testing.T) {
	// 3 agents, 7 /web tasks, all on the first registered agent (7.7 cores): 7.7/24 = 32 % <
	// 40 %. The cheapest removable agents are the two idle ones; the lower id goes first.
	s := newScenario(t, 10, 3, 7, policyYAML())
	var idle []fakemesos.AgentView
	for _, a := range s.env.Mesos.Agents() {
		if a.Tasks == 0 {
			idle = append(idle, a)
		}
	}
	if len(idle) != 2 {
		t.Fatalf("%d idle agents, want 2", len(idle))
	}
	victim := idle[0]
	r := s.reconcile(t)
	if r.Err != nil || r.Decision.Direction != planner.ScaleDown || len(r.Decision.ScaleDownAgents) != 1 || r.Decision.ScaleDownAgents[0] != victim.ID {
		t.Fatalf("%v %+v, want agent %s removed", r.Err, r.Decision, victim.ID)
	}
	g := s.group(t)
	if g.DesiredCapacity != 2 {
		t.Errorf("desired %d, want 2", g.DesiredCapacity)
	}
	for _, inst := range g.Instances {
		terminating := strings.HasPrefix(inst.LifecycleState, "Terminating")
		if terminating != (inst.ID == victim.InstanceID) {
			t.Errorf("instance %s is %s (victim %s)", inst.ID, inst.LifecycleState, victim.InstanceID)
		}
	}
	calls := s.env.AWS.Calls()
	for _, c := range calls {
		if c.Action == "TerminateInstanceInAutoScalingGroup" && (c.Params["InstanceId"] != victim.InstanceID || c.Params["ShouldDecrementDesiredCapacity"] != "true") {
			t.Errorf("terminate call %v", c.Params)
		}
	}
	// Next reconcile: 7.7/16 = 48 % ≥ 40 %: no further removal; the busy agent is never chosen.
	s.env.Advance(time.Minute, time.Second)
	r = s.reconcile(t)
	if r.Err != nil || r.Decision.Direction != planner.NoChange || s.env.AWS.CallCount("TerminateInstanceInAutoScalingGroup") != 1 {
		t.Fatalf("%v %+v", r.Err, r.Decision)
	}
}

func TestScalingActivityInProgressThenSuccess(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML()) // wants 3 (see TestScaleUpFromUtilization)
	s.env.AWS.InjectFault(fakeaws.Fault{Action: "SetDesiredCapacity", Code: "ScalingActivityInProgress", Times: 3})
	for i := 1; i <= 3; i++ {
		r := s.reconcile(t)
		if r.Err == nil {
			t.Fatalf("attempt %d succeeded through the fault", i)
		}
		// Backoff: 5 s, 10 s, 20 s.
		if want := time.Duration(5<<(i-1)) * time.Second; r.RequeueAfter != want {
			t.Errorf("attempt %d: requeue after %v, want %v", i, r.RequeueAfter, want)
		}
		c := condition(t, s.status(t), controllers.ConditionAbleToScale)
		if c.Status != metav1.ConditionFalse || c.Reason != "ScalingActivityInProgress" {
			t.Errorf("attempt %d: AbleToScale %s/%s", i, c.Status, c.Reason)
		}
		s.env.Advance(r.RequeueAfter, time.Second)
	}
	r := s.reconcile(t)
	if r.Err != nil || r.RequeueAfter != time.Minute {
		t.Fatalf("after the fault: %v, requeue %v", r.Err, r.RequeueAfter)
	}
	if g := s.group(t); g.DesiredCapacity != 3 || s.env.AWS.SuccessCount("SetDesiredCapacity") != 1 || s.env.AWS.CallCount("SetDesiredCapacity") != 4 {
		t.Errorf("desired %d after %d successful of %d calls; want 3 after 1 of 4", g.DesiredCapacity, s.env.AWS.SuccessCount("SetDesiredCapacity"), s.env.AWS.CallCount("SetDesiredCapacity"))
	}
}

func TestThrottlingAtStartSurvived(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	until := s.env.Clock.Now().Add(10 * time.Second)
	s.env.AWS.InjectFault(fakeaws.Fault{Code: "Throttling", Until: until})
	r := s.reconcile(t)
	if r.Err == nil || s.writes() != 0 {
		t.Fatalf("throttled reconcile: err %v, %d writes", r.Err, s.writes())
	}
	if c := condition(t, s.status(t), controllers.ConditionObservationFailed); c.Status != metav1.ConditionTrue || c.Reason != "AutoScalingGroupUnavailable" {
		t.Errorf("ObservationFailed %s/%s", c.Status, c.Reason)
	}
	s.env.Advance(r.RequeueAfter, time.Second) // 5 s: still throttled
	if r = s.reconcile(t); r.Err == nil {
		t.Fatal("second reconcile at +5 s was not throttled")
	}
	s.env.Advance(r.RequeueAfter, time.Second) // +15 s
	if r = s.reconcile(t); r.Err != nil || s.group(t).DesiredCapacity != 3 {
		t.Fatalf("after throttling: %v, desired %d", r.Err, s.group(t).DesiredCapacity)
	}
	if c := condition(t, s.status(t), controllers.ConditionObservationFailed); c.Status != metav1.ConditionFalse {
		t.Errorf("ObservationFailed still %s", c.Status)
	}
}

func TestDemandAboveMax(t *testing.T) {
	// Max 3, 30 /web tasks: 14 run on the 2 agents, 16 wait in Marathon's queue. 16 copies of
	// 1 core need 2 new nodes (8 per node); utilization counting the queued copies as used,
	// (15.4 + 16)/(16 + 8n) ≤ 0.8, needs n ≥ 2.9 → 3: 5 nodes > max 3.
	s := newScenario(t, 3, 2, 30, policyYAML())
	r := s.reconcile(t)
	if r.Err != nil || r.Decision.DesiredCapacity != 3 || !hasReason(r.Decision, planner.ReasonScalingLimited) {
		t.Fatalf("%v %+v", r.Err, r.Decision)
	}
	if g := s.group(t); g.DesiredCapacity != 3 {
		t.Errorf("desired %d, want 3", g.DesiredCapacity)
	}
	c := condition(t, s.status(t), controllers.ConditionScalingLimited)
	if c.Status != metav1.ConditionTrue || c.Message != "5 nodes are needed but the maximum is 3; 2 nodes of demand are not met" {
		t.Errorf("ScalingLimited %s %q", c.Status, c.Message)
	}
}

func TestMesosDownNoWrite(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	s.env.Mesos.SetDown(true)
	r := s.reconcile(t)
	if r.Err == nil || r.Decision != nil || s.writes() != 0 {
		t.Fatalf("err %v decision %+v writes %d", r.Err, r.Decision, s.writes())
	}
	p := s.status(t)
	if c := condition(t, p, controllers.ConditionObservationFailed); c.Status != metav1.ConditionTrue || c.Reason != "MesosUnavailable" {
		t.Errorf("ObservationFailed %s/%s: %s", c.Status, c.Reason, c.Message)
	}
	if c := condition(t, p, controllers.ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready %s", c.Status)
	}
	s.env.Mesos.SetDown(false)
	s.env.Advance(r.RequeueAfter, time.Second)
	if r = s.reconcile(t); r.Err != nil || s.group(t).DesiredCapacity != 3 {
		t.Fatalf("after recovery: %v desired %d", r.Err, s.group(t).DesiredCapacity)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML("  mode: DryRun"))
	for i := 0; i < 3; i++ {
		r := s.reconcile(t)
		if r.Err != nil || r.Decision.Direction != planner.ScaleUp || r.Decision.DesiredCapacity != 3 {
			t.Fatalf("%v %+v", r.Err, r.Decision)
		}
		s.env.Advance(time.Minute, time.Second)
	}
	if s.writes() != 0 || s.group(t).DesiredCapacity != 2 {
		t.Errorf("DryRun wrote: %d writes, desired %d", s.writes(), s.group(t).DesiredCapacity)
	}
	p := s.status(t)
	if c := condition(t, p, controllers.ConditionAbleToScale); c.Reason != "DryRun" || p.Status.DesiredNodes != 3 || p.Status.LastScaleTime != nil {
		t.Errorf("AbleToScale %s, desiredNodes %d, lastScaleTime %v", c.Reason, p.Status.DesiredNodes, p.Status.LastScaleTime)
	}
}

func TestRestartKeepsStatusAndBumpsGeneration(t *testing.T) {
	dir := t.TempDir()
	yaml := policyYAMLWith(0, 600)
	s := newScenario(t, 10, 3, 7, yaml) // 32 % cpus: scale-down recommended, must hold 600 s
	s.start(t, yaml, dir)
	r := s.reconcile(t)
	since := s.env.Clock.Now()
	if !hasReason(r.Decision, planner.ReasonScaleDownStabilizing) {
		t.Fatalf("%+v", r.Decision)
	}
	// Restart a minute later with the same spec, then reconcile every minute: the window is
	// not reset by the restart.
	s.env.Advance(time.Minute, time.Second)
	s.start(t, yaml, dir)
	for i := 0; i < 4; i++ {
		r = s.reconcile(t)
		s.env.Advance(time.Minute, time.Second)
	}
	r = s.reconcile(t)
	p := s.status(t)
	if p.Generation != 1 || p.Status.ScaleDownRecommendedSince == nil || !p.Status.ScaleDownRecommendedSince.Time.Equal(since) {
		t.Fatalf("generation %d since %v, want 1 and %v", p.Generation, p.Status.ScaleDownRecommendedSince, since)
	}
	// 10 minutes after the first recommendation the removal happens.
	for i := 0; i < 5; i++ {
		s.env.Advance(time.Minute, time.Second)
		r = s.reconcile(t)
	}
	if r.Decision.Direction != planner.ScaleDown {
		t.Fatalf("after the window: %+v", r.Decision)
	}
	// A long outage restarts the window: 20 minutes without a decision, then the
	// recommendation starts over (a fresh 600 s).
	o := newScenario(t, 10, 3, 7, policyYAMLWith(0, 600))
	o.reconcile(t)
	o.env.Advance(20*time.Minute, time.Second)
	if r := o.reconcile(t); r.Decision.Direction != planner.NoChange || !hasReason(r.Decision, planner.ReasonScaleDownStabilizing) {
		t.Fatalf("after an outage: %s %v", r.Decision.Direction, r.Decision.Reasons)
	}

	// A changed spec bumps the generation; observedGeneration follows.
	s.start(t, policyYAMLWith(0, 300), dir)
	s.reconcile(t)
	if p = s.status(t); p.Generation != 2 || p.Status.ObservedGeneration != 2 {
		t.Errorf("generation %d observed %d, want 2 and 2", p.Generation, p.Status.ObservedGeneration)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ctrl.Run(ctx) }()
	// Let three intervals pass on the fake clock.
	deadline := time.Now().Add(10 * time.Second)
	for s.env.Clock.Now().Before(t0.Add(91*time.Second + 3*time.Minute)) {
		if time.Now().After(deadline) {
			t.Fatal("the controller never waited on the clock")
		}
		if s.env.Clock.HasWaiters() {
			s.env.Clock.Step(time.Second)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if g := s.group(t); g.DesiredCapacity != 3 {
		t.Errorf("desired %d, want 3", g.DesiredCapacity)
	}
	if p := s.status(t); p.Status.LastDecision == nil {
		t.Error("no status written")
	}
}

func TestUnusablePolicyDoesNotStopOthers(t *testing.T) {
	// Two policies: "general" runs; "broken" names a credentials file that does not exist.
	s := newScenario(t, 10, 2, 14, policyYAML())
	broken := strings.Replace(strings.Replace(policyYAML(), "name: general", "name: broken", 1), "name: "+group, "name: other-group", 1)
	broken = strings.Replace(broken, `masters: ["http://127.0.0.1:1"]`, "masters: [\"http://127.0.0.1:1\"]\n    credentialsFile: /nonexistent/lambdascale-credentials", 1)
	loaded, errs := policy.LoadData("pools.yaml", []byte(policyYAML()+"---\n"+broken))
	if len(errs) > 0 || len(loaded) != 2 {
		t.Fatalf("%d loaded, %v", len(loaded), errs)
	}
	for _, l := range loaded {
		s.env.Rewire(l.Policy)
	}
	loaded[1].Policy.Spec.Mesos.CredentialsFile = "/nonexistent/lambdascale-credentials"
	ctrl, perrs, err := controllers.New(controllers.Options{Clock: s.env.Clock, Log: logr.Discard(), Store: s.store, Provider: s.env.Provider}, loaded)
	if err != nil || len(perrs) != 1 || !strings.Contains(perrs[0].Error(), `policy "broken"`) || !strings.Contains(perrs[0].Error(), "spec.mesos.credentialsFile") {
		t.Fatalf("err %v, policy errors %v", err, perrs)
	}
	if names := ctrl.Policies(); len(names) != 1 || names[0] != "general" {
		t.Fatalf("running %v", names)
	}
	if rs := ctrl.ReconcileAll(context.Background()); rs[0].Err != nil || s.group(t).DesiredCapacity != 3 {
		t.Fatalf("general: %v, desired %d", rs[0].Err, s.group(t).DesiredCapacity)
	}
	p, err := s.store.Get("broken")
	if err != nil || p == nil {
		t.Fatalf("no status for the broken policy: %v", err)
	}
	if c := condition(t, p, controllers.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != "InvalidConfiguration" {
		t.Errorf("broken Ready %s/%s", c.Status, c.Reason)
	}
}

// TestHungMasterBoundedByGatherTimeout: a master that accepts connections and never answers
// holds a reconcile at most GatherTimeout (shared by every source), and a cancelled context
// (SIGTERM) ends the observation at once; nothing is written to AWS.
func TestHungMasterBoundedByGatherTimeout(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, answer nothing
		}
	}()
	loaded, errs := policy.LoadData("general.yaml", []byte(policyYAML()))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s.env.Rewire(loaded[0].Policy)
	loaded[0].Policy.Spec.Mesos.Masters = []string{"http://" + ln.Addr().String()}
	st, _ := store.New(t.TempDir())
	ctrl, _, err := controllers.New(controllers.Options{Clock: s.env.Clock, Log: logr.Discard(), Store: st, Provider: s.env.Provider,
		GatherTimeout: 300 * time.Millisecond, HTTPClient: &http.Client{}}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	r := ctrl.ReconcileAll(context.Background())[0]
	if took := time.Since(began); r.Err == nil || took > 2*time.Second {
		t.Fatalf("reconcile took %s: %v", took, r.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	ctrl2, _, _ := controllers.New(controllers.Options{Clock: s.env.Clock, Log: logr.Discard(), Store: st, Provider: s.env.Provider,
		GatherTimeout: time.Minute, HTTPClient: &http.Client{}}, loaded)
	began = time.Now()
	r = ctrl2.ReconcileAll(ctx)[0]
	if took := time.Since(began); r.Err == nil || took > 2*time.Second {
		t.Fatalf("cancelled reconcile took %s: %v", took, r.Err)
	}
	// The interrupted reconcile leaves the status of the last complete one (ObservationFailed
	// from the timed-out one above, with its 300 ms message), not a report of the stop.
	p, _ := st.Get("general")
	if c := condition(t, p, controllers.ConditionObservationFailed); c.Status != metav1.ConditionTrue || strings.Contains(c.Message, "canceled") {
		t.Errorf("status after a stop: %s %q", c.Status, c.Message)
	}
	if s.writes() != 0 {
		t.Errorf("%d writes without a Mesos view", s.writes())
	}
}

// TestProbes: Ready turns nil after the first reconcile; Healthy fails once no reconcile has
// finished for 3 × max(interval, 5 min) + the gather timeout (here 15 min + 30 s).
func TestProbes(t *testing.T) {
	s := newScenario(t, 10, 2, 14, policyYAML())
	if err := s.ctrl.Ready(); err == nil || !strings.Contains(err.Error(), "general") {
		t.Fatalf("Ready before any reconcile: %v", err)
	}
	if err := s.ctrl.Healthy(s.env.Clock.Now()); err != nil {
		t.Fatalf("Healthy before the first round: %v", err)
	}
	s.reconcile(t)
	done := s.env.Clock.Now()
	if err := s.ctrl.Ready(); err != nil {
		t.Fatalf("Ready after a reconcile: %v", err)
	}
	if err := s.ctrl.Healthy(done.Add(15*time.Minute + 30*time.Second)); err != nil {
		t.Fatalf("Healthy at the limit: %v", err)
	}
	if err := s.ctrl.Healthy(done.Add(15*time.Minute + 31*time.Second)); err == nil {
		t.Fatal("Healthy past the limit: stuck loop not reported")
	}
}
