package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
)

// instanceOf returns the described member id of g; it fails the test when absent.
func instanceOf(t *testing.T, g cloud.Group, id string) cloud.Instance {
	t.Helper()
	for _, in := range g.Instances {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("group %q has no member %s: %+v", g.Name, id, g.Instances)
	return cloud.Instance{}
}

// wantNotInService checks that err refuses id in state, and whether as already terminating.
func wantNotInService(t *testing.T, err error, id, state string, alreadyTerminating bool) {
	t.Helper()
	var nis *cloud.NotInServiceError
	if !errors.As(err, &nis) || !errors.Is(err, cloud.ErrNotInService) {
		t.Fatalf("TerminateInstance(%s): %v, want a *cloud.NotInServiceError", id, err)
	}
	if nis.InstanceID != id || nis.LifecycleState != state || nis.AlreadyTerminating() != alreadyTerminating {
		t.Errorf("refusal %+v (already terminating %v), want %s in %s (already terminating %v)",
			nis, nis.AlreadyTerminating(), id, state, alreadyTerminating)
	}
}

func TestTerminateHookStatesReportedAndRefused(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 3, TerminateHookTimeout: time.Minute})
	e.describe("agents")
	members := ids(e.fake.Instances("agents"))
	victim := members[0]
	if err := e.client.TerminateInstance(ctx, "agents", victim); err != nil {
		t.Fatalf("TerminateInstance: %v", err)
	}

	// The hook holds the instance in Terminating:Wait; EC2 still runs it (the agent drains).
	g := e.describe("agents")["agents"]
	in := instanceOf(t, g, victim)
	if in.LifecycleState != cloud.StateTerminatingWait || in.IsCapacity() || in.IsUpcoming() || !in.IsTerminatingOrGone() {
		t.Errorf("victim %+v, want Terminating:Wait, neither capacity nor upcoming", in)
	}
	if g.DesiredCapacity != 2 || g.CapacityUnits() != 2 || g.UpcomingUnits() != 0 {
		t.Errorf("desired %d, capacity %d, upcoming %d; want 2, 2, 0", g.DesiredCapacity, g.CapacityUnits(), g.UpcomingUnits())
	}
	if v := e.fake.Instances("agents")[0]; v.EC2State != "running" {
		t.Errorf("EC2 state during Terminating:Wait = %q, want running", v.EC2State)
	}
	wantNotInService(t, e.client.TerminateInstance(ctx, "agents", victim), victim, cloud.StateTerminatingWait, true)

	// The drain completes the action: Terminating:Proceed, refused again.
	if _, err := e.raw().CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: sdkaws.String("agents"), LifecycleHookName: sdkaws.String(fakeaws.TerminateHookName),
		InstanceId: sdkaws.String(victim), LifecycleActionResult: sdkaws.String("CONTINUE"),
	}); err != nil {
		t.Fatalf("CompleteLifecycleAction: %v", err)
	}
	g = e.describe("agents")["agents"]
	if in := instanceOf(t, g, victim); in.LifecycleState != cloud.StateTerminatingProceed || in.IsCapacity() {
		t.Errorf("victim %+v, want Terminating:Proceed and not capacity", in)
	}
	wantNotInService(t, e.client.TerminateInstance(ctx, "agents", victim), victim, cloud.StateTerminatingProceed, true)

	// A second termination, left to the hook's one-minute timeout (default result CONTINUE).
	second := members[1]
	if err := e.client.TerminateInstance(ctx, "agents", second); err != nil {
		t.Fatalf("TerminateInstance(%s): %v", second, err)
	}
	e.clock.Step(20 * time.Second) // the first is gone (20 s shutting down); the second waits
	g = e.describe("agents")["agents"]
	if got := states(e.fake.Instances("agents")); len(got) != 2 || got[second] != fakeaws.StateTerminatingWait {
		t.Errorf("after 20 s: %v, want the second in Terminating:Wait and the first gone", got)
	}
	e.clock.Step(40 * time.Second) // +60 s: the timeout moves it on
	if got := states(e.fake.Instances("agents"))[second]; got != fakeaws.StateTerminatingProceed {
		t.Errorf("after the hook timeout: %s, want Terminating:Proceed", got)
	}
	e.clock.Step(20 * time.Second)
	g = e.describe("agents")["agents"]
	if len(g.Instances) != 1 || g.Instances[0].ID != members[2] || g.DesiredCapacity != 1 || g.CapacityUnits() != 1 {
		t.Errorf("group %+v, want only %s, desired 1", g, members[2])
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 2 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 2 (refusals send nothing)", n)
	}
}

func TestLaunchHookPendingWaitIsUpcoming(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 1, LaunchHookTimeout: 2 * time.Minute})
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(ctx, "agents", 3); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	g := e.describe("agents")["agents"]
	var waiting []string
	for _, in := range g.Instances[1:] {
		if in.LifecycleState != cloud.StatePendingWait || !in.IsUpcoming() || in.IsCapacity() {
			t.Errorf("new instance %+v, want Pending:Wait and upcoming", in)
		}
		waiting = append(waiting, in.ID)
	}
	if g.CapacityUnits() != 1 || g.UpcomingUnits() != 2 {
		t.Errorf("capacity %d, upcoming %d; want 1 and 2", g.CapacityUnits(), g.UpcomingUnits())
	}
	wantNotInService(t, e.client.TerminateInstance(ctx, "agents", waiting[0]), waiting[0], cloud.StatePendingWait, false)

	// The agent's bootstrap continues the first; the second is abandoned.
	raw := e.raw()
	for i, result := range []string{"CONTINUE", "ABANDON"} {
		if _, err := raw.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
			AutoScalingGroupName: sdkaws.String("agents"), LifecycleHookName: sdkaws.String(fakeaws.LaunchHookName),
			InstanceId: sdkaws.String(waiting[i]), LifecycleActionResult: sdkaws.String(result),
		}); err != nil {
			t.Fatalf("CompleteLifecycleAction(%s, %s): %v", waiting[i], result, err)
		}
	}
	g = e.describe("agents")["agents"]
	if in := instanceOf(t, g, waiting[0]); in.LifecycleState != cloud.StatePendingProceed || !in.IsUpcoming() {
		t.Errorf("continued instance %+v, want Pending:Proceed", in)
	}
	if in := instanceOf(t, g, waiting[1]); in.LifecycleState != cloud.StateTerminating || in.IsUpcoming() {
		t.Errorf("abandoned instance %+v, want Terminating, not upcoming", in)
	}
	// AWS launches a replacement for the abandoned one: capacity 1, upcoming 2 again, and
	// the phantom counts nowhere.
	if len(g.Instances) != 4 || g.Instances[3].LifecycleState != cloud.StatePendingWait || g.CapacityUnits() != 1 || g.UpcomingUnits() != 2 {
		t.Errorf("group %+v, want a replacement in Pending:Wait, capacity 1, upcoming 2", g.Instances)
	}
	acts, err := e.client.ScalingActivities(ctx, "agents", 0)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	failed := cloud.FailedLaunches(acts, start)
	if len(failed) != 1 || failed[0].StatusCode != cloud.ActivityCancelled || failed[0].InstanceID() != waiting[1] ||
		!strings.HasSuffix(failed[0].StatusMessage, "was abandoned: Lifecycle Action Completed with ABANDON Result") {
		t.Errorf("failed launches %+v, want the cancelled launch of %s", failed, waiting[1])
	}

	// Pending:Proceed lasts PendingDuration (30 s).
	e.clock.Step(30 * time.Second)
	if in := instanceOf(t, e.describe("agents")["agents"], waiting[0]); !in.IsCapacity() {
		t.Errorf("after 30 s %+v, want InService", in)
	}
	// A completed action cannot be completed again, in AWS's words.
	_, err = raw.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: sdkaws.String("agents"), LifecycleHookName: sdkaws.String(fakeaws.LaunchHookName),
		InstanceId: sdkaws.String(waiting[0]), LifecycleActionResult: sdkaws.String("CONTINUE"),
	})
	if err == nil || !strings.Contains(err.Error(), "No active Lifecycle Action found with instance ID "+waiting[0]) {
		t.Errorf("completing again: %v, want AWS's no-active-action ValidationError", err)
	}
}

func TestStandbyReportedAndRefused(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 3})
	members := ids(e.fake.Instances("agents"))
	raw := e.raw()
	out, err := raw.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{members[1]}, ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
	})
	if err != nil {
		t.Fatalf("EnterStandby: %v", err)
	}
	if len(out.Activities) != 1 || !strings.Contains(sdkaws.ToString(out.Activities[0].Cause), "was moved to standby in response to a user request, shrinking the capacity from 3 to 2.") {
		t.Errorf("EnterStandby activities %+v", out.Activities)
	}

	g := e.describe("agents")["agents"]
	in := instanceOf(t, g, members[1])
	if in.LifecycleState != cloud.StateStandby || !in.IsStandby() || in.IsCapacity() || in.IsUpcoming() || in.IsTerminatingOrGone() {
		t.Errorf("standby instance %+v, want Standby: a member, not capacity", in)
	}
	if g.DesiredCapacity != 2 || g.CapacityUnits() != 2 || len(g.Instances) != 3 {
		t.Errorf("desired %d, capacity %d, members %d; want 2, 2, 3 (no replacement)", g.DesiredCapacity, g.CapacityUnits(), len(g.Instances))
	}
	wantNotInService(t, e.client.TerminateInstance(ctx, "agents", members[1]), members[1], cloud.StateStandby, false)
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 0", n)
	}

	// Standby without decrement: AWS launches a replacement, which is upcoming.
	if _, err := raw.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{members[2]}, ShouldDecrementDesiredCapacity: sdkaws.Bool(false),
	}); err != nil {
		t.Fatalf("EnterStandby: %v", err)
	}
	g = e.describe("agents")["agents"]
	if g.DesiredCapacity != 2 || g.CapacityUnits() != 1 || g.UpcomingUnits() != 1 || len(g.Instances) != 4 {
		t.Errorf("desired %d, capacity %d, upcoming %d, members %d; want 2, 1, 1, 4", g.DesiredCapacity, g.CapacityUnits(), g.UpcomingUnits(), len(g.Instances))
	}

	// Below MinSize, AWS refuses in its words: desired 2 - 1 = 1 is MinSize, 1 - 1 is not.
	if _, err := raw.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{members[0]}, ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
	}); err != nil {
		t.Fatalf("EnterStandby to MinSize: %v", err)
	}
	e.clock.Step(30 * time.Second) // the replacement is in service
	last := e.fake.Instances("agents")[3].ID
	_, err = raw.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{last}, ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
	})
	const text = "AutoScalingGroup agents has min-size=1, max-size=10, and desired-size=1. To place into standby 1 instance, please update the AutoScalingGroup sizes appropriately."
	if err == nil || !strings.Contains(err.Error(), text) {
		t.Errorf("EnterStandby below MinSize: %v, want %q", err, text)
	}

	// ExitStandby: Pending, then InService; desired capacity grows back.
	if _, err := raw.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{members[1]}}); err != nil {
		t.Fatalf("ExitStandby: %v", err)
	}
	g = e.describe("agents")["agents"]
	if in := instanceOf(t, g, members[1]); in.LifecycleState != cloud.StatePending || g.DesiredCapacity != 2 {
		t.Errorf("after ExitStandby %+v, desired %d; want Pending, 2", in, g.DesiredCapacity)
	}
}

func TestWeightedDesiredCapacityInUnits(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 20, DesiredCapacity: 0,
		InstanceTypes: []fakeaws.InstanceTypeWeight{{InstanceType: "m5.2xlarge", WeightedCapacity: 2}, {InstanceType: "m5.xlarge", WeightedCapacity: 1}}})
	g := e.describe("agents")["agents"]
	if !g.Weighted() || g.WeightOf("m5.2xlarge") != 2 || g.WeightOf("m5.xlarge") != 1 || g.WeightOf("c5.large") != 1 {
		t.Fatalf("weighted %v, weights %d %d %d; want true, 2 1 1", g.Weighted(), g.WeightOf("m5.2xlarge"), g.WeightOf("m5.xlarge"), g.WeightOf("c5.large"))
	}
	// 5 units: the fake cycles through the overrides in order, m5.2xlarge (2), m5.xlarge
	// (3), m5.2xlarge (5): 3 instances.
	if err := e.client.SetDesiredCapacity(ctx, "agents", 5); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	e.clock.Step(30 * time.Second)
	g = e.describe("agents")["agents"]
	var types []string
	var weights []int32
	for _, in := range g.Instances {
		types = append(types, in.InstanceType)
		weights = append(weights, in.WeightedCapacity)
	}
	if !slices.Equal(types, []string{"m5.2xlarge", "m5.xlarge", "m5.2xlarge"}) || !slices.Equal(weights, []int32{2, 1, 2}) {
		t.Errorf("instances %v weighing %v, want m5.2xlarge, m5.xlarge, m5.2xlarge weighing 2, 1, 2", types, weights)
	}
	if g.DesiredCapacity != 5 || g.CapacityUnits() != 5 {
		t.Errorf("desired %d, capacity %d units; want 5 and 5", g.DesiredCapacity, g.CapacityUnits())
	}
	// The bounds are in units: 21 > MaxSize 20 is refused without a call.
	if err := e.client.SetDesiredCapacity(ctx, "agents", 21); !errors.Is(err, cloud.ErrOutsideBounds) {
		t.Errorf("SetDesiredCapacity(21): %v, want ErrOutsideBounds", err)
	}
	// Terminating a weight-2 instance lowers desired by 2 units: 5 - 2 = 3.
	if err := e.client.TerminateInstance(ctx, "agents", g.Instances[0].ID); err != nil {
		t.Fatalf("TerminateInstance: %v", err)
	}
	if fg := e.fakeGroup("agents"); fg.DesiredCapacity != 3 {
		t.Errorf("fake desired = %d, want 3", fg.DesiredCapacity)
	}
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 1 {
		t.Errorf("SetDesiredCapacity requests = %d, want 1", n)
	}
}

func TestInstanceTypeShapesOneCallPerNewType(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	got, err := e.client.InstanceTypeShapes(ctx, []string{"m5.2xlarge", "r5.large", "m5.2xlarge", ""})
	if err != nil {
		t.Fatalf("InstanceTypeShapes: %v", err)
	}
	want := map[string]cloud.InstanceTypeShape{"m5.2xlarge": {VCPUs: 8, MemoryMiB: 32768}, "r5.large": {VCPUs: 2, MemoryMiB: 16384}}
	if len(got) != 2 || got["m5.2xlarge"] != want["m5.2xlarge"] || got["r5.large"] != want["r5.large"] {
		t.Errorf("shapes %v, want %v", got, want)
	}
	if n := e.fake.CallCount("DescribeInstanceTypes"); n != 1 {
		t.Errorf("DescribeInstanceTypes requests = %d, want 1 for two types", n)
	}
	// Cached: the same types again send nothing; one new type sends one request for it alone.
	if got, err := e.client.InstanceTypeShapes(ctx, []string{"r5.large", "m5.2xlarge"}); err != nil || len(got) != 2 {
		t.Errorf("second InstanceTypeShapes: %v, %v", got, err)
	}
	if n := e.fake.CallCount("DescribeInstanceTypes"); n != 1 {
		t.Errorf("DescribeInstanceTypes requests after a cached call = %d, want 1", n)
	}
	got, err = e.client.InstanceTypeShapes(ctx, []string{"m5.2xlarge", "c5.xlarge"})
	if err != nil || got["c5.xlarge"] != (cloud.InstanceTypeShape{VCPUs: 4, MemoryMiB: 8192}) || got["m5.2xlarge"] != want["m5.2xlarge"] {
		t.Errorf("third InstanceTypeShapes: %v, %v", got, err)
	}
	calls := e.fake.Calls()
	last := calls[len(calls)-1]
	if e.fake.CallCount("DescribeInstanceTypes") != 2 || last.Params["InstanceType.1"] != "c5.xlarge" || last.Params["InstanceType.2"] != "" {
		t.Errorf("last call %+v, want a second DescribeInstanceTypes for c5.xlarge alone", last)
	}
	// An unknown type: EC2's InvalidInstanceType, classified.
	_, err = e.client.InstanceTypeShapes(ctx, []string{"m5.huge"})
	if !errors.Is(err, cloud.ErrUnknownInstanceType) || cloud.ErrorCode(err) != "InvalidInstanceType" ||
		!strings.Contains(err.Error(), "The following supplied instance types do not exist: [m5.huge]") {
		t.Errorf("unknown type: %v, want ErrUnknownInstanceType with EC2's message", err)
	}
}

func TestAZRebalanceTerminationTolerated(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 3})
	members := ids(e.fake.Instances("agents")) // one per zone: us-east-1a, b, c
	e.describe("agents")
	if err := e.fake.TerminateOnItsOwn("agents", members[0], fakeaws.CauseAZRebalance); err != nil {
		t.Fatalf("TerminateOnItsOwn: %v", err)
	}

	// The victim is Terminating, the replacement Pending (in us-east-1b, the first of the
	// least-filled other zones); desired is unchanged and nothing counts twice: 2 in
	// service + 1 upcoming = 3.
	g := e.describe("agents")["agents"]
	if in := instanceOf(t, g, members[0]); in.LifecycleState != cloud.StateTerminating {
		t.Errorf("victim %+v, want Terminating", in)
	}
	repl := g.Instances[3]
	if repl.LifecycleState != cloud.StatePending || repl.AvailabilityZone != "us-east-1b" {
		t.Errorf("replacement %+v, want Pending in us-east-1b", repl)
	}
	if g.DesiredCapacity != 3 || g.CapacityUnits() != 2 || g.UpcomingUnits() != 1 {
		t.Errorf("desired %d, capacity %d, upcoming %d; want 3, 2, 1", g.DesiredCapacity, g.CapacityUnits(), g.UpcomingUnits())
	}
	acts, err := e.client.ScalingActivities(ctx, "agents", 2)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	const at = "2026-03-02T09:00:00.000Z"
	wantTerminate := "At " + at + " instances were launched to balance instances in zones us-east-1a us-east-1b us-east-1c with other zones resulting in more than desired number of instances in the group. " +
		"At " + at + " an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 4 to 3. " +
		"At " + at + " instance " + members[0] + " was selected for termination."
	wantLaunch := "At " + at + " availability zones us-east-1a us-east-1b us-east-1c had 1 1 1 instances respectively. An instance was launched to aid in balancing the group's zones."
	if len(acts) != 2 || acts[0].Cause != wantTerminate || acts[0].InstanceID() != members[0] || acts[1].Cause != wantLaunch || acts[1].InstanceID() != repl.ID {
		t.Errorf("activities %+v\nwant the termination of %s caused by %q, then the launch of %s caused by %q", acts, members[0], wantTerminate, repl.ID, wantLaunch)
	}

	// 20 s later the victim is gone; 30 s later the replacement is in service.
	e.clock.Step(20 * time.Second)
	if g := e.describe("agents")["agents"]; len(g.Instances) != 3 || g.CapacityUnits() != 2 || g.UpcomingUnits() != 1 {
		t.Errorf("after 20 s: %d members, capacity %d, upcoming %d; want 3, 2, 1", len(g.Instances), g.CapacityUnits(), g.UpcomingUnits())
	}
	e.clock.Step(10 * time.Second)
	if g := e.describe("agents")["agents"]; g.CapacityUnits() != 3 || g.DesiredCapacity != 3 {
		t.Errorf("after 30 s: capacity %d, desired %d; want 3 and 3", g.CapacityUnits(), g.DesiredCapacity)
	}
}

func TestHealthReplacementTolerated(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2, SuspendedProcesses: []string{fakeaws.ProcessReplaceUnhealthy}})
	members := ids(e.fake.Instances("agents"))
	if err := e.fake.TerminateOnItsOwn("agents", members[0], fakeaws.CauseHealthCheck); err != nil {
		t.Fatalf("TerminateOnItsOwn: %v", err)
	}
	// ReplaceUnhealthy is suspended: marked, not replaced.
	g := e.describe("agents")["agents"]
	if in := instanceOf(t, g, members[0]); in.HealthStatus != "Unhealthy" || in.LifecycleState != cloud.StateInService || len(g.Instances) != 2 {
		t.Errorf("while ReplaceUnhealthy is suspended: %+v, want it Unhealthy, InService, not replaced", g.Instances)
	}
	if _, err := e.raw().ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: sdkaws.String("agents")}); err != nil {
		t.Fatalf("ResumeProcesses: %v", err)
	}
	g = e.describe("agents")["agents"]
	if in := instanceOf(t, g, members[0]); in.LifecycleState != cloud.StateTerminating || len(g.Instances) != 3 || g.Instances[2].LifecycleState != cloud.StatePending {
		t.Errorf("after resuming: %+v, want it Terminating and a Pending replacement", g.Instances)
	}
	if g.CapacityUnits()+g.UpcomingUnits() != g.DesiredCapacity {
		t.Errorf("capacity %d + upcoming %d != desired %d", g.CapacityUnits(), g.UpcomingUnits(), g.DesiredCapacity)
	}
	acts, err := e.client.ScalingActivities(ctx, "agents", 2)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	if acts[1].Cause != "At 2026-03-02T09:00:00.000Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped." {
		t.Errorf("termination cause %q", acts[1].Cause)
	}

	// A user health check (SetInstanceHealth) is replaced at once.
	if _, err := e.raw().SetInstanceHealth(ctx, &autoscaling.SetInstanceHealthInput{InstanceId: sdkaws.String(members[1]), HealthStatus: sdkaws.String("Unhealthy")}); err != nil {
		t.Fatalf("SetInstanceHealth: %v", err)
	}
	acts, err = e.client.ScalingActivities(ctx, "agents", 2)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	if acts[1].InstanceID() != members[1] || !strings.HasSuffix(acts[1].Cause, "an instance was taken out of service in response to a user health-check.") ||
		!strings.HasPrefix(acts[0].Description, "Launching a new EC2 instance: i-") {
		t.Errorf("activities %+v, want the user health-check termination of %s and its replacement", acts, members[1])
	}
}

func TestFailedAndCancelledLaunchesAreNoCapacity(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 1, InstanceType: "m5.2xlarge"})
	if err := e.fake.InjectLaunchFailures("agents", 2, ""); err != nil {
		t.Fatal(err)
	}
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(ctx, "agents", 2); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	// The first instance went to us-east-1a; the failure is in us-east-1b, the retry 10 s
	// later in us-east-1c, the launch 20 s later in us-east-1a.
	acts, err := e.client.ScalingActivities(ctx, "agents", 0)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	const msg = "We currently do not have sufficient m5.2xlarge capacity in the Availability Zone you requested (us-east-1b). " +
		"Our system will be working on provisioning additional capacity. You can currently get m5.2xlarge capacity by not specifying an Availability Zone in your request or choosing us-east-1a, us-east-1c. " +
		"Launching EC2 instance failed."
	failed := cloud.FailedLaunches(acts, time.Time{})
	if len(failed) != 1 || failed[0].StatusCode != cloud.ActivityFailed || failed[0].StatusMessage != msg ||
		failed[0].Description != "Launching a new EC2 instance.  Status Reason: "+msg || failed[0].InstanceID() != "" {
		t.Fatalf("failed launches %+v, want one with %q", failed, msg)
	}
	g := e.describe("agents")["agents"]
	if len(g.Instances) != 1 || g.DesiredCapacity != 2 || g.CapacityUnits()+g.UpcomingUnits() != 1 {
		t.Errorf("group %+v, want desired 2 with one instance: the failed launch started none", g)
	}

	e.clock.Step(25 * time.Second)
	acts, err = e.client.ScalingActivities(ctx, "agents", 0)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	if got := cloud.FailedLaunches(acts, time.Time{}); len(got) != 2 || !strings.Contains(got[0].StatusMessage, "(us-east-1c)") {
		t.Errorf("failed launches after 25 s: %+v, want two, the newest in us-east-1c", got)
	}
	if got := cloud.FailedLaunches(acts, start.Add(5*time.Second)); len(got) != 1 || !got[0].StartTime.Equal(start.Add(10*time.Second)) {
		t.Errorf("failed launches since +5 s: %+v, want the one at +10 s", got)
	}
	if g := e.describe("agents")["agents"]; len(g.Instances) != 2 || g.Instances[1].LaunchTime.Sub(start) != 20*time.Second {
		t.Errorf("instances %+v, want the second launched at +20 s", g.Instances)
	}

	// A cancelled launch started an instance, which AWS terminates: it is not capacity.
	if err := e.fake.InjectCancelledLaunches("agents", 1); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(30 * time.Second)
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(ctx, "agents", 3); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	acts, err = e.client.ScalingActivities(ctx, "agents", 1)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	g = e.describe("agents")["agents"]
	phantom := acts[0].InstanceID()
	if acts[0].StatusCode != cloud.ActivityCancelled || phantom == "" || len(cloud.FailedLaunches(acts, time.Time{})) != 1 {
		t.Fatalf("newest activity %+v, want a cancelled launch naming its instance", acts[0])
	}
	if in := instanceOf(t, g, phantom); in.LifecycleState != cloud.StateTerminating || in.IsUpcoming() || in.IsCapacity() {
		t.Errorf("phantom %+v, want Terminating", in)
	}
	if g.CapacityUnits() != 2 || g.UpcomingUnits() != 0 {
		t.Errorf("capacity %d, upcoming %d; want 2 and 0 (the retry is due in 10 s)", g.CapacityUnits(), g.UpcomingUnits())
	}
}

func TestSuspendedProcessesVisibleAndTerminateRefused(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 3})
	raw := e.raw()
	if _, err := raw.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
		AutoScalingGroupName: sdkaws.String("agents"), ScalingProcesses: []string{"Terminate", "AZRebalance"},
	}); err != nil {
		t.Fatalf("SuspendProcesses: %v", err)
	}
	g := e.describe("agents")["agents"]
	if !slices.Equal(g.SuspendedProcesses, []string{"Terminate", "AZRebalance"}) || !g.IsSuspended("Terminate") || !g.IsSuspended("AZRebalance") || g.IsSuspended("Launch") {
		t.Errorf("suspended processes %v, want Terminate and AZRebalance", g.SuspendedProcesses)
	}
	victim := g.Instances[0].ID
	if err := e.client.TerminateInstance(ctx, "agents", victim); !errors.Is(err, cloud.ErrProcessSuspended) {
		t.Errorf("TerminateInstance with Terminate suspended: %v, want ErrProcessSuspended", err)
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 0", n)
	}
	if err := e.fake.TerminateOnItsOwn("agents", victim, fakeaws.CauseAZRebalance); err == nil {
		t.Errorf("rebalancing with AZRebalance suspended succeeded, want a refusal")
	}
	// Someone lowers desired: AWS does not scale in while Terminate is suspended.
	if _, err := raw.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: sdkaws.String("agents"), DesiredCapacity: sdkaws.Int32(1)}); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	if g := e.describe("agents")["agents"]; g.DesiredCapacity != 1 || g.CapacityUnits() != 3 {
		t.Errorf("desired %d, capacity %d; want 1 and 3 (no scale-in)", g.DesiredCapacity, g.CapacityUnits())
	}
	if _, err := raw.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: sdkaws.String("agents"), ScalingProcesses: []string{"Terminate"}}); err != nil {
		t.Fatalf("ResumeProcesses: %v", err)
	}
	g = e.describe("agents")["agents"]
	if !slices.Equal(g.SuspendedProcesses, []string{"AZRebalance"}) || g.CapacityUnits() != 1 {
		t.Errorf("after resuming Terminate: suspended %v, capacity %d; want AZRebalance and 1", g.SuspendedProcesses, g.CapacityUnits())
	}
}

func TestUnknownAndWarmPoolStatesAreNotCapacity(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 3})
	members := ids(e.fake.Instances("agents"))
	for i, state := range []string{"Warmed:Running", "Rebooting:Wait"} {
		if err := e.fake.SetLifecycleState(members[i], state); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.raw().DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{members[2]}, ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
	}); err != nil {
		t.Fatalf("DetachInstances: %v", err)
	}
	g := e.describe("agents")["agents"]
	for i, want := range []string{"Warmed:Running", "Rebooting:Wait", cloud.StateDetaching} {
		in := instanceOf(t, g, members[i])
		if in.LifecycleState != want || in.IsCapacity() || in.IsUpcoming() {
			t.Errorf("%s: %+v, want %s, neither capacity nor upcoming", members[i], in, want)
		}
		wantNotInService(t, e.client.TerminateInstance(ctx, "agents", members[i]), members[i], want, want == cloud.StateDetaching)
	}
	if !instanceOf(t, g, members[0]).IsWarmPool() {
		t.Errorf("Warmed:Running is not reported as a warm-pool state")
	}
	// AWS replaces the two that stopped counting (desired 3 - 1 detached = 2).
	if g.DesiredCapacity != 2 || g.CapacityUnits() != 0 || g.UpcomingUnits() != 2 {
		t.Errorf("desired %d, capacity %d, upcoming %d; want 2, 0, 2", g.DesiredCapacity, g.CapacityUnits(), g.UpcomingUnits())
	}
	// The detached instance leaves the group 10 s later.
	e.clock.Step(10 * time.Second)
	if g := e.describe("agents")["agents"]; slices.ContainsFunc(g.Instances, func(in cloud.Instance) bool { return in.ID == members[2] }) {
		t.Errorf("detached instance still a member: %+v", g.Instances)
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 0", n)
	}
}
