package controllers_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/controllers"
	"github.com/lambdascale/lambdascale/internal/planner"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
	"github.com/lambdascale/lambdascale/internal/sim/simenv"
)

// capacityScenario: one group of 2 instances (m5.2xlarge, 8 cores), /web tasks of 1 core; at
// +3 min the workload steps from 7 to 21 tasks. Agents register registration after InService.
func capacityScenario(t *testing.T, registration time.Duration, group simenv.Group, yaml string) *scenario {
	t.Helper()
	group.Name = "mesos-agents-general"
	env, err := simenv.New(simenv.Options{
		Start: t0, Groups: []simenv.Group{group}, RegistrationDelay: registration,
		Applications: []fakemesos.Application{{ID: "/web", CPUs: 1, MemMiB: 1024,
			Schedule: []fakemesos.Step{{Instances: 7}, {At: 3*time.Minute + 30*time.Second + registration, Instances: 21}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	env.Advance(30*time.Second+registration+time.Second, time.Second) // initial agents registered
	s := &scenario{env: env}
	s.start(t, yaml, t.TempDir())
	return s
}

func TestBootDelayLongerThanThreeIntervals(t *testing.T) {
	// The step to 21 tasks (23.1 cores with executors) while 2 agents of 8 cores run 14: the
	// 7 queued copies count as used, (15.4 + 7)/(16 + 8n) ≤ 0.8 → n ≥ 1.5 → 2 nodes, added in
	// one step; every reconcile during the boot counts the launching instances as upcoming.
	// Boot = 30 s Pending + the registration delay: 3 intervals (150 s) and 4.5 intervals (4 min).
	for _, registration := range []time.Duration{150 * time.Second, 4 * time.Minute} {
		t.Run(registration.String(), func(t *testing.T) {
			s := capacityScenario(t, registration, simenv.Group{MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"}, policyYAML())
			firstGrowth, converged := 0, 0
			for i := 1; i <= 15; i++ {
				r := s.reconcile(t)
				if r.Err != nil {
					t.Fatalf("reconcile %d: %v", i, r.Err)
				}
				if len(r.Acted) > 0 && firstGrowth == 0 {
					firstGrowth = i
				}
				if firstGrowth > 0 && converged == 0 && r.Decision.UpcomingNodes == 0 && !hasReason(r.Decision, planner.ReasonPendingTasks) {
					converged = i
				}
				s.env.Advance(time.Minute, time.Second)
			}
			if n := s.env.AWS.SuccessCount("SetDesiredCapacity"); n != 1 || s.group(t).DesiredCapacity != 4 {
				t.Fatalf("%d SetDesiredCapacity calls, desired %d; want 1 call to 4", n, s.group(t).DesiredCapacity)
			}
			if converged == 0 {
				t.Fatal("never converged")
			}
			// Reported in the issue notes: reconciles from the demand step to convergence.
			t.Logf("boot %s: grew at the first reconcile after the step; converged %d reconciles later", registration+30*time.Second, converged-firstGrowth)
		})
	}
}

func TestLaunchFailuresBackOff(t *testing.T) {
	// Launches fail (insufficient capacity): the desired capacity is raised once, the phantom
	// instances do not count, ScaleUpFailed carries AWS's message, and no further increment
	// is sent while the failure lasts.
	s := capacityScenario(t, time.Minute, simenv.Group{MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"}, policyYAML())
	if err := s.env.AWS.InjectLaunchFailures("mesos-agents-general", -1, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if r := s.reconcile(t); r.Err != nil {
			t.Fatalf("reconcile %d: %v", i, r.Err)
		}
		s.env.Advance(time.Minute, time.Second)
	}
	if n := s.env.AWS.SuccessCount("SetDesiredCapacity"); n != 1 {
		t.Fatalf("%d SetDesiredCapacity calls with failing launches, want 1", n)
	}
	p := s.status(t)
	c := condition(t, p, controllers.ConditionScaleUpFailed)
	if c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "sufficient") {
		t.Errorf("ScaleUpFailed %s %q", c.Status, c.Message)
	}
	if p.Status.UpcomingNodes != 0 {
		t.Errorf("phantom instances counted: upcoming %d", p.Status.UpcomingNodes)
	}
}

func TestInstanceNeverRegisters(t *testing.T) {
	// Agents take 20 minutes to register; the policy allows 5: after the growth, the new
	// instance stops counting at 5 minutes, the condition names it, growth backs off.
	s := capacityScenario(t, 20*time.Minute, simenv.Group{MinSize: 1, MaxSize: 10, DesiredCapacity: 2, InstanceType: "m5.2xlarge"},
		strings.Replace(policyYAML(), "  minNodes: 1\n", "  minNodes: 1\n  scaleUp: {registrationTimeoutSeconds: 300}\n", 1))
	for i := 0; i < 12; i++ {
		s.reconcile(t)
		s.env.Advance(time.Minute, time.Second)
	}
	p := s.status(t)
	c := condition(t, p, controllers.ConditionScaleUpFailed)
	if c.Status != metav1.ConditionTrue || c.Reason != planner.ReasonInstancesNotRegistered || !strings.Contains(c.Message, "i-") {
		t.Fatalf("ScaleUpFailed %s %s %q", c.Status, c.Reason, c.Message)
	}
	if p.Status.ScaleUpFailures == 0 || p.Status.ScaleUpBackoffUntil == nil {
		t.Errorf("no back-off recorded: %+v", p.Status)
	}
	if n := s.env.AWS.SuccessCount("SetDesiredCapacity"); n > 2 {
		t.Errorf("%d increments while instances never register", n)
	}
}

func TestAZRebalanceTerminationTolerated(t *testing.T) {
	// AWS terminates an instance on its own and launches a replacement: the controller counts
	// the replacement as upcoming and writes nothing.
	s := newScenario(t, 10, 3, 14, policyYAML())
	s.reconcile(t) // 15.4/24 cores: between the thresholds
	g := s.group(t)
	if err := s.env.AWS.TerminateOnItsOwn(group, g.Instances[2].ID, fakeaws.CauseAZRebalance); err != nil {
		t.Fatal(err)
	}
	s.env.AWS.ResetCalls()
	for i := 0; i < 4; i++ {
		s.env.Advance(30*time.Second, time.Second)
		if r := s.reconcile(t); r.Err != nil || len(r.Acted) > 0 {
			t.Fatalf("reconcile %d: %v %v", i, r.Err, r.Acted)
		}
	}
	if w := s.writes(); w != 0 {
		t.Errorf("%d writes after an AZ rebalance", w)
	}
}

func TestWeightedGroupInUnits(t *testing.T) {
	// Overrides m5.xlarge (weight 1) and m5.2xlarge (weight 2); desired 3 units = one of each.
	// 14 tasks cannot fit in 4 + 8 cores: the planner adds nodes of the smallest type (1 unit).
	s := capacityScenario(t, time.Minute, simenv.Group{MinSize: 1, MaxSize: 20, DesiredCapacity: 3,
		InstanceTypes: []fakeaws.InstanceTypeWeight{{InstanceType: "m5.xlarge", WeightedCapacity: 1}, {InstanceType: "m5.2xlarge", WeightedCapacity: 2}}}, policyYAML())
	r := s.reconcile(t)
	if r.Err != nil || !r.Decision.Units || r.Decision.CurrentCapacity != 3 {
		t.Fatalf("%v %+v", r.Err, r.Decision)
	}
	if !hasReason(r.Decision, planner.ReasonNodeShapeFromType) || r.Decision.NodeShape.CPUs != 4 {
		t.Errorf("planned with %+v; %v", r.Decision.NodeShape, r.Decision.Reasons)
	}
}
