package fakeaws_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
)

// stateOf returns the lifecycle state of id in group ("" when not a member).
func (f *fixture) stateOf(t *testing.T, group, id string) string {
	t.Helper()
	for _, in := range f.instances(t, group) {
		if in.ID == id {
			return in.LifecycleState
		}
	}
	return ""
}

func TestLaunchHookTimeline(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 0, LaunchHookTimeout: time.Minute})
	f.setDesired(t, "agents", 1)
	ins := f.instances(t, "agents")
	id := ins[0].ID
	if ins[0].LifecycleState != fakeaws.StatePendingWait || ins[0].EC2State != "running" {
		t.Fatalf("launched %+v, want Pending:Wait with EC2 running", ins[0])
	}
	// Timeout at +60 s (default CONTINUE), Pending:Proceed for 30 s, InService at +90 s.
	for _, step := range []struct {
		after time.Duration
		want  string
	}{{59 * time.Second, fakeaws.StatePendingWait}, {time.Second, fakeaws.StatePendingProceed}, {29 * time.Second, fakeaws.StatePendingProceed}, {time.Second, fakeaws.StateInService}} {
		f.clock.Step(step.after)
		if got := f.stateOf(t, "agents", id); got != step.want {
			t.Errorf("at +%s: %s, want %s", f.clock.Since(start), got, step.want)
		}
	}
	if in := f.instances(t, "agents")[0]; !in.InServiceSince.Equal(start.Add(90 * time.Second)) {
		t.Errorf("InServiceSince %s, want +90 s", in.InServiceSince)
	}
}

func TestLaunchHookDefaultAbandonCancelsAndRelaunches(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 0,
		LaunchHookTimeout: time.Minute, HookDefaultResult: fakeaws.HookAbandon})
	f.setDesired(t, "agents", 1)
	first := f.instances(t, "agents")[0].ID
	f.clock.Step(time.Minute)
	ins := f.instances(t, "agents")
	if len(ins) != 2 || ins[0].ID != first || ins[0].LifecycleState != fakeaws.StateTerminating || ins[1].LifecycleState != fakeaws.StatePendingWait ||
		!ins[1].LaunchTime.Equal(start.Add(time.Minute)) {
		t.Fatalf("after the timeout: %+v, want the first Terminating and a replacement launched at +60 s in Pending:Wait", ins)
	}
	out, err := f.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("agents")})
	if err != nil {
		t.Fatal(err)
	}
	var cancelled []string
	for _, a := range out.Activities {
		if a.StatusCode == "Cancelled" {
			cancelled = append(cancelled, aws.ToString(a.Description))
		}
	}
	if len(cancelled) != 1 || !strings.HasPrefix(cancelled[0], "Launching a new EC2 instance: "+first+".  Status Reason: Instance failed to complete user's Lifecycle Action: Lifecycle Action with token ") {
		t.Errorf("cancelled activities %q, want the launch of %s", cancelled, first)
	}
}

func TestTerminateHookByToken(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 2, TerminateHookTimeout: time.Hour})
	ctx := context.Background()
	id := f.instances(t, "agents")[1].ID
	if _, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.stateOf(t, "agents", id); got != fakeaws.StateTerminatingWait {
		t.Fatalf("state %s, want Terminating:Wait", got)
	}
	// Terminating it again is refused while it waits.
	_, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true),
	})
	if code, _ := apiCode(t, err); code != "ValidationError" {
		t.Errorf("second termination: %v, want a ValidationError", err)
	}
	// A wrong token is AWS's no-active-action error; the hook name alone does not match a
	// launch hook.
	_, err = f.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("agents"), LifecycleHookName: aws.String(fakeaws.TerminateHookName),
		LifecycleActionToken: aws.String("00000000-0000-4000-a000-000000000000"), LifecycleActionResult: aws.String("CONTINUE"),
	})
	if _, msg := apiCode(t, err); msg != "No active Lifecycle Action found with token 00000000-0000-4000-a000-000000000000" {
		t.Errorf("wrong token: %q", msg)
	}
	_, err = f.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("agents"), LifecycleHookName: aws.String(fakeaws.LaunchHookName),
		InstanceId: aws.String(id), LifecycleActionResult: aws.String("CONTINUE"),
	})
	if _, msg := apiCode(t, err); msg != "No active Lifecycle Action found with instance ID "+id {
		t.Errorf("launch hook on a terminating instance: %q", msg)
	}
	// ABANDON on a termination proceeds all the same.
	if _, err := f.asg.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String("agents"), LifecycleHookName: aws.String(fakeaws.TerminateHookName),
		InstanceId: aws.String(id), LifecycleActionResult: aws.String("ABANDON"),
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.stateOf(t, "agents", id); got != fakeaws.StateTerminatingProceed {
		t.Errorf("after ABANDON: %s, want Terminating:Proceed", got)
	}
	f.clock.Step(20 * time.Second)
	if got := f.stateOf(t, "agents", id); got != "" {
		t.Errorf("after 20 s: %s, want gone", got)
	}
}

func TestSuspendedLaunchAndExitStandby(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 2})
	ctx := context.Background()
	id := f.instances(t, "agents")[0].ID
	if _, err := f.asg.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: aws.String("agents"), InstanceIds: []string{id}, ShouldDecrementDesiredCapacity: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("agents"), ScalingProcesses: []string{"Launch"}}); err != nil {
		t.Fatal(err)
	}
	f.setDesired(t, "agents", 4)
	if n := len(f.instances(t, "agents")); n != 2 {
		t.Errorf("members with Launch suspended = %d, want 2 (no launch)", n)
	}
	_, err := f.asg.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("agents"), InstanceIds: []string{id}})
	if code, _ := apiCode(t, err); code != "ValidationError" {
		t.Errorf("ExitStandby with Launch suspended: %v, want a ValidationError", err)
	}
	out, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"agents"}})
	if err != nil {
		t.Fatal(err)
	}
	sp := out.AutoScalingGroups[0].SuspendedProcesses
	if len(sp) != 1 || aws.ToString(sp[0].ProcessName) != "Launch" || aws.ToString(sp[0].SuspensionReason) != "User suspended at 2026-03-02T09:00:00.000Z" {
		t.Errorf("suspended processes %+v, want Launch, user suspended at the start", sp)
	}
	// Resuming catches up at once: 1 InService + 3 launched = desired 4.
	f.clock.Step(time.Minute)
	if _, err := f.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String("agents")}); err != nil {
		t.Fatal(err)
	}
	var pending int
	for _, in := range f.instances(t, "agents") {
		if in.LifecycleState == fakeaws.StatePending {
			pending++
			if !in.LaunchTime.Equal(start.Add(time.Minute)) {
				t.Errorf("launched at %s, want at the resume", in.LaunchTime)
			}
		}
	}
	if pending != 3 {
		t.Errorf("pending after resuming = %d, want 3", pending)
	}
	_, err = f.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("agents"), ScalingProcesses: []string{"Lunch"}})
	if code, _ := apiCode(t, err); code != "ValidationError" {
		t.Errorf("suspending an unknown process: %v, want a ValidationError", err)
	}
}

func TestDetachedInstanceKeepsRunning(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	ctx := context.Background()
	id := f.instances(t, "agents")[0].ID
	out, err := f.asg.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: aws.String("agents"), InstanceIds: []string{id}, ShouldDecrementDesiredCapacity: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Activities) != 1 || aws.ToString(out.Activities[0].Description) != "Detaching EC2 instance: "+id {
		t.Errorf("activities %+v", out.Activities)
	}
	if got := f.stateOf(t, "agents", id); got != fakeaws.StateDetaching {
		t.Errorf("state %s, want Detaching", got)
	}
	// At MinSize now: detaching the other with a decrement is refused.
	other := f.instances(t, "agents")[1].ID
	_, err = f.asg.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName: aws.String("agents"), InstanceIds: []string{other}, ShouldDecrementDesiredCapacity: aws.Bool(true),
	})
	if _, msg := apiCode(t, err); !strings.HasPrefix(msg, "AutoScalingGroup agents has min-size=1, max-size=10, and desired-size=1. To detach 1 instance") {
		t.Errorf("detaching below MinSize: %q", msg)
	}
	f.clock.Step(10 * time.Second)
	if got := f.stateOf(t, "agents", id); got != "" {
		t.Errorf("after 10 s: %s, want no longer a member", got)
	}
	di, err := f.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if st := di.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameRunning {
		t.Errorf("EC2 state of the detached instance %s, want running", st)
	}
}

func TestDescribeInstanceTypes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	out, err := f.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"r5.large", "m5.4xlarge"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range out.InstanceTypes {
		got = append(got, fmt.Sprintf("%s:%d/%d", it.InstanceType, aws.ToInt32(it.VCpuInfo.DefaultVCpus), aws.ToInt64(it.MemoryInfo.SizeInMiB)))
	}
	if want := []string{"m5.4xlarge:16/65536", "r5.large:2/16384"}; !slices.Equal(got, want) {
		t.Errorf("instance types %v, want %v", got, want)
	}
	_, err = f.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"m5.large", "m5.huge", "x9.tiny"}})
	if code, msg := apiCode(t, err); code != "InvalidInstanceType" || msg != "The following supplied instance types do not exist: [m5.huge, x9.tiny]" {
		t.Errorf("unknown types: %s %q", code, msg)
	}
	// Every known type, paged 5 at a time.
	p := ec2.NewDescribeInstanceTypesPaginator(f.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5)})
	pages, n := 0, 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n += len(page.InstanceTypes)
	}
	if n < 24 || pages != (n+4)/5 {
		t.Errorf("%d types in %d pages, want at least the m5, c5 and r5 families in pages of 5", n, pages)
	}
	if c := f.fake.CallCount("DescribeInstanceTypes"); c != 2+pages {
		t.Errorf("DescribeInstanceTypes requests = %d, want %d", c, 2+pages)
	}
}

func TestPersistentLaunchFailuresRetryEveryInterval(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 0})
	if err := f.fake.InjectLaunchFailures("agents", -1, "You have requested more instances (7) than your current instance limit of 6 allows for the specified instance type."); err != nil {
		t.Fatal(err)
	}
	f.setDesired(t, "agents", 2)
	f.clock.Step(time.Minute)
	out, err := f.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("agents")})
	if err != nil {
		t.Fatal(err)
	}
	// One failure at +0 s, then one every 10 s: +0, +10, ..., +60 s = 7, newest first.
	var offsets []time.Duration
	for _, a := range out.Activities {
		if a.StatusCode != "Failed" || aws.ToString(a.StatusMessage) != "You have requested more instances (7) than your current instance limit of 6 allows for the specified instance type. Launching EC2 instance failed." {
			t.Errorf("activity %s %q, want a Failed launch with the limit text", a.StatusCode, aws.ToString(a.StatusMessage))
		}
		offsets = append(offsets, a.StartTime.Sub(start))
	}
	if want := []time.Duration{60e9, 50e9, 40e9, 30e9, 20e9, 10e9, 0}; !slices.Equal(offsets, want) {
		t.Errorf("failures at %v, want %v", offsets, want)
	}
	if n := len(f.instances(t, "agents")); n != 0 {
		t.Errorf("members = %d, want 0", n)
	}
	// The limit is raised: the next attempt, at +70 s, launches both.
	if err := f.fake.InjectLaunchFailures("agents", 0, ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(10 * time.Second)
	ins := f.instances(t, "agents")
	if len(ins) != 2 || !ins[0].LaunchTime.Equal(start.Add(70*time.Second)) {
		t.Errorf("members %+v, want two launched at +70 s", ins)
	}
}
