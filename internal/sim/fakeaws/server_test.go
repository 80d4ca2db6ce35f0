package fakeaws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture is a fake on a fake clock with plain SDK clients (no retries) pointed at it.
type fixture struct {
	clock *testingclock.FakeClock
	fake  *fakeaws.Server
	url   string
	asg   *autoscaling.Client
	ec2   *ec2.Client
}

func newFixture(t *testing.T, groups ...fakeaws.GroupConfig) *fixture {
	t.Helper()
	clk := testingclock.NewFakeClock(start)
	fake := fakeaws.New(fakeaws.Options{Clock: clk})
	for _, g := range groups {
		if err := fake.CreateGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	u, stop := fake.Start()
	t.Cleanup(stop)
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	return &fixture{
		clock: clk,
		fake:  fake,
		url:   u,
		asg: autoscaling.New(autoscaling.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), Credentials: creds,
			RetryMaxAttempts: 1}),
		ec2: ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), Credentials: creds, RetryMaxAttempts: 1}),
	}
}

func (f *fixture) instances(t *testing.T, group string) []fakeaws.InstanceView {
	t.Helper()
	ins := f.fake.Instances(group)
	if ins == nil {
		t.Fatalf("no group %q", group)
	}
	return ins
}

func (f *fixture) setDesired(t *testing.T, group string, n int32) {
	t.Helper()
	if _, err := f.asg.SetDesiredCapacity(context.Background(), &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(n), HonorCooldown: aws.Bool(false),
	}); err != nil {
		t.Fatalf("SetDesiredCapacity(%s, %d): %v", group, n, err)
	}
}

// apiCode returns the SDK error's code and message.
func apiCode(t *testing.T, err error) (code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func TestLifecycleOnTheFakeClock(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 1})
	first := f.instances(t, "agents")[0]
	if first.LifecycleState != fakeaws.StateInService || !first.InServiceSince.Equal(start) {
		t.Errorf("initial instance %+v, want InService since creation", first)
	}

	f.clock.Step(5 * time.Second)
	f.setDesired(t, "agents", 3)
	ins := f.instances(t, "agents")
	if len(ins) != 3 || ins[1].LifecycleState != fakeaws.StatePending || !ins[1].LaunchTime.Equal(start.Add(5*time.Second)) {
		t.Fatalf("after SetDesiredCapacity(3): %+v, want 2 Pending launched at +5 s", ins)
	}
	// Instances are spread over the zones round-robin and get addresses from 10.0.0.0/16.
	if zones := []string{ins[0].AvailabilityZone, ins[1].AvailabilityZone, ins[2].AvailabilityZone}; !slices.Equal(zones, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) {
		t.Errorf("zones = %v, want a, b, c", zones)
	}
	if ins[1].PrivateIP != "10.0.0.11" || ins[1].PrivateDNSName != "ip-10-0-0-11.ec2.internal" {
		t.Errorf("second instance address %q %q, want 10.0.0.11 ip-10-0-0-11.ec2.internal", ins[1].PrivateIP, ins[1].PrivateDNSName)
	}

	f.clock.Step(30*time.Second - time.Millisecond)
	if s := f.instances(t, "agents")[1].LifecycleState; s != fakeaws.StatePending {
		t.Errorf("at +29.999 s after launch: %s, want Pending", s)
	}
	// Observed late, the transition is still dated exactly PendingDuration after launch.
	f.clock.Step(15 * time.Second)
	for _, in := range f.instances(t, "agents")[1:] {
		if in.LifecycleState != fakeaws.StateInService || !in.InServiceSince.Equal(start.Add(35*time.Second)) {
			t.Errorf("instance %s: %s since %s, want InService since +35 s", in.ID, in.LifecycleState, in.InServiceSince)
		}
	}

	// Lowering the desired capacity lets AWS choose: the zone with most instances, then the
	// oldest. All zones hold one: zone a (name order), its only instance, the first one.
	f.setDesired(t, "agents", 2)
	ins = f.instances(t, "agents")
	if ins[0].ID != first.ID || ins[0].LifecycleState != fakeaws.StateTerminating {
		t.Fatalf("after SetDesiredCapacity(2): %+v, want %s Terminating", ins, first.ID)
	}
	f.clock.Step(20*time.Second - time.Millisecond)
	if n := len(f.instances(t, "agents")); n != 3 {
		t.Errorf("members before TerminatingDuration = %d, want 3", n)
	}
	f.clock.Step(time.Millisecond)
	ins = f.instances(t, "agents")
	if len(ins) != 2 || slices.ContainsFunc(ins, func(in fakeaws.InstanceView) bool { return in.ID == first.ID }) {
		t.Errorf("after TerminatingDuration: %+v, want %s gone", ins, first.ID)
	}

	// EC2 still knows the gone instance, as terminated, without an address.
	out, err := f.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{first.ID}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	got := out.Reservations[0].Instances[0]
	if got.State.Name != ec2types.InstanceStateNameTerminated || got.PrivateIpAddress != nil || aws.ToInt32(got.State.Code) != 48 {
		t.Errorf("gone instance in EC2: state %s (%d), address %v; want terminated (48) without address",
			got.State.Name, aws.ToInt32(got.State.Code), got.PrivateIpAddress)
	}
}

func TestDefaultTerminationPolicySkipsProtectedAndBalancesZones(t *testing.T) {
	// Launch order a, b, c, a: zone a holds two.
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 4})
	ins := f.instances(t, "agents")
	if _, err := f.asg.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String("agents"), InstanceIds: []string{ins[0].ID}, ProtectedFromScaleIn: aws.Bool(true),
	}); err != nil {
		t.Fatalf("SetInstanceProtection: %v", err)
	}
	// Zone a has two instances but one is protected: zones a, b, c tie at one candidate
	// each; zone a wins by name and its unprotected instance is ins[3].
	f.setDesired(t, "agents", 3)
	got := map[string]string{}
	for _, in := range f.instances(t, "agents") {
		got[in.ID] = in.LifecycleState
	}
	if got[ins[3].ID] != fakeaws.StateTerminating || got[ins[0].ID] != fakeaws.StateInService {
		t.Errorf("states %v, want %s terminating and protected %s in service", got, ins[3].ID, ins[0].ID)
	}
}

func TestAutoScalingValidationTexts(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 2, MaxSize: 5, DesiredCapacity: 2})
	ctx := context.Background()
	member := f.instances(t, "agents")[0].ID
	for _, c := range []struct {
		name string
		call func() error
		code string
		text string
	}{
		{"above max", func() error {
			_, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("agents"), DesiredCapacity: aws.Int32(6)})
			return err
		}, "ValidationError", "New SetDesiredCapacity value 6 is above max value 5 for the AutoScalingGroup."},
		{"below min", func() error {
			_, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("agents"), DesiredCapacity: aws.Int32(1)})
			return err
		}, "ValidationError", "New SetDesiredCapacity value 1 is below min value 2 for the AutoScalingGroup."},
		{"unknown group", func() error {
			_, err := f.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("nope"), DesiredCapacity: aws.Int32(1)})
			return err
		}, "ValidationError", "AutoScalingGroup name not found - null"},
		{"terminate with decrement at min", func() error {
			_, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(member), ShouldDecrementDesiredCapacity: aws.Bool(true)})
			return err
		}, "ValidationError", "Currently, desiredSize equals minSize (2). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size."},
		{"terminate unknown instance", func() error {
			_, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String("i-0000000000000dead"), ShouldDecrementDesiredCapacity: aws.Bool(true)})
			return err
		}, "ValidationError", "Instance Id not found - No managed instance found for instance ID: i-0000000000000dead"},
		{"min above max", func() error {
			_, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("agents"), MinSize: aws.Int32(6)})
			return err
		}, "ValidationError", "Max bound, 5, must be greater than or equal to min bound, 6"},
		{"MaxRecords above 100", func() error {
			_, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(101)})
			return err
		}, "ValidationError", "1 validation error detected: Value '101' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			code, msg := apiCode(t, err)
			if code != c.code || msg != c.text {
				t.Errorf("error %s %q, want %s %q", code, msg, c.code, c.text)
			}
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != 400 {
				t.Errorf("HTTP status is not 400: %v", err)
			}
		})
	}
	if g, _ := f.fake.Group("agents"); g.DesiredCapacity != 2 || g.MinSize != 2 || g.MaxSize != 5 || len(g.Instances) != 2 {
		t.Errorf("group after refused calls: %+v, want it unchanged", g)
	}
}

func TestDescribeUnknownGroupIsAnEmptyList(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 5, DesiredCapacity: 0})
	out, err := f.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{"nope"},
	})
	if err != nil || len(out.AutoScalingGroups) != 0 || out.NextToken != nil {
		t.Errorf("DescribeAutoScalingGroups(nope) = %+v, %v; want an empty list, as AWS answers", out, err)
	}
}

func TestTerminateInstanceMirrorsAWS(t *testing.T) {
	ctx := context.Background()
	t.Run("a protected instance is terminated", func(t *testing.T) {
		// AWS: scale-in protection does not protect from TerminateInstanceInAutoScalingGroup.
		f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 5, DesiredCapacity: 2, NewInstancesProtectedFromScaleIn: true})
		victim := f.instances(t, "agents")[1]
		if !victim.ProtectedFromScaleIn {
			t.Fatal("instance not protected")
		}
		out, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(victim.ID), ShouldDecrementDesiredCapacity: aws.Bool(true),
		})
		if err != nil {
			t.Fatalf("TerminateInstanceInAutoScalingGroup: %v", err)
		}
		if a := out.Activity; a == nil || aws.ToString(a.Description) != "Terminating EC2 instance: "+victim.ID || a.StatusCode != "InProgress" {
			t.Errorf("activity %+v, want the termination of %s in progress", out.Activity, victim.ID)
		}
		g, _ := f.fake.Group("agents")
		if g.DesiredCapacity != 1 || g.Instances[1].LifecycleState != fakeaws.StateTerminating || g.Instances[0].LifecycleState != fakeaws.StateInService {
			t.Errorf("group %+v, want desired 1 and only %s terminating", g, victim.ID)
		}
		// A second termination of the same instance is refused.
		_, err = f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(victim.ID), ShouldDecrementDesiredCapacity: aws.Bool(true),
		})
		if code, _ := apiCode(t, err); code != "ValidationError" {
			t.Errorf("second termination: %v, want a ValidationError", err)
		}
		if g, _ := f.fake.Group("agents"); g.DesiredCapacity != 1 {
			t.Errorf("desired after the refused second termination = %d, want 1", g.DesiredCapacity)
		}
	})
	t.Run("without decrement a replacement launches", func(t *testing.T) {
		f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 5, DesiredCapacity: 1})
		victim := f.instances(t, "agents")[0].ID
		if _, err := f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(victim), ShouldDecrementDesiredCapacity: aws.Bool(false),
		}); err != nil {
			t.Fatalf("TerminateInstanceInAutoScalingGroup: %v", err)
		}
		g, _ := f.fake.Group("agents")
		if g.DesiredCapacity != 1 || len(g.Instances) != 2 || g.Instances[0].ID != victim ||
			g.Instances[0].LifecycleState != fakeaws.StateTerminating || g.Instances[1].LifecycleState != fakeaws.StatePending {
			t.Errorf("group %+v, want desired 1, %s terminating and a pending replacement", g, victim)
		}
	})
}

func TestUpdateAutoScalingGroupBounds(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	ctx := context.Background()
	// A MinSize above the desired capacity raises it.
	if _, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("agents"), MinSize: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	if g, _ := f.fake.Group("agents"); g.MinSize != 3 || g.DesiredCapacity != 3 || len(g.Instances) != 3 {
		t.Errorf("after MinSize 3: %+v, want min 3, desired 3, 3 instances", g)
	}
	// An explicit desired capacity outside the new bounds is refused.
	_, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("agents"), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(5)})
	if _, msg := apiCode(t, err); msg != "Desired capacity:5 must be between the specified min size:3 and max size:4" {
		t.Errorf("message %q", msg)
	}
}

func TestDescribeAutoScalingGroupsPaging(t *testing.T) {
	var groups []fakeaws.GroupConfig
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		groups = append(groups, fakeaws.GroupConfig{Name: n, MinSize: 0, MaxSize: 3, DesiredCapacity: 1})
	}
	f := newFixture(t, groups...)
	// No names: every group, in name order.
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(f.asg, &autoscaling.DescribeAutoScalingGroupsInput{
		MaxRecords: aws.Int32(2),
	})
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, g := range out.AutoScalingGroups {
			names = append(names, aws.ToString(g.AutoScalingGroupName))
		}
	}
	if pages != 3 || !slices.Equal(names, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("%d pages of %v, want 3 pages of a..e", pages, names)
	}
	// More names than MaxRecords is refused.
	_, err := f.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{"a", "b", "c"}, MaxRecords: aws.Int32(2),
	})
	if code, _ := apiCode(t, err); code != "ValidationError" {
		t.Errorf("3 names with MaxRecords 2: %v, want a ValidationError", err)
	}
}

func TestDescribeInstances(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 7, InstanceType: "c5.4xlarge"})
	ctx := context.Background()
	ins := f.instances(t, "agents")

	out, err := f.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ins[2].ID}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	got := out.Reservations[0].Instances[0]
	if aws.ToString(got.InstanceId) != ins[2].ID || aws.ToString(got.PrivateIpAddress) != ins[2].PrivateIP ||
		aws.ToString(got.PrivateDnsName) != ins[2].PrivateDNSName || got.InstanceType != "c5.4xlarge" ||
		aws.ToString(got.Placement.AvailabilityZone) != ins[2].AvailabilityZone || got.State.Name != ec2types.InstanceStateNameRunning ||
		!aws.ToTime(got.LaunchTime).Equal(start) {
		t.Errorf("instance %+v does not match %+v", got, ins[2])
	}

	_, err = f.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ins[0].ID, "i-0000000000000dead"}})
	if code, msg := apiCode(t, err); code != "InvalidInstanceID.NotFound" || msg != "The instance ID 'i-0000000000000dead' does not exist" {
		t.Errorf("unknown id: %s %q", code, msg)
	}

	// The instance-id filter leaves unknown ids out; MaxResults pages.
	var all []string
	for _, in := range ins {
		all = append(all, in.ID)
	}
	p := ec2.NewDescribeInstancesPaginator(f.ec2, &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{{Name: aws.String("instance-id"), Values: append(all, "i-0000000000000dead")}},
		MaxResults: aws.Int32(5),
	})
	var seen []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				seen = append(seen, aws.ToString(in.InstanceId))
			}
		}
	}
	slices.Sort(all)
	if pages != 2 || !slices.Equal(seen, all) {
		t.Errorf("%d pages of %v, want 2 pages of %v", pages, seen, all)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 1})
	ctx := context.Background()
	describe := func() error {
		_, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"agents"}})
		return err
	}
	describeInstances := func() error {
		_, err := f.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	}

	// Times: the next 2 matching calls only; other actions are not affected.
	f.fake.InjectFault(fakeaws.Fault{Action: "DescribeAutoScalingGroups", Code: "ResourceContention", Times: 2})
	if err := describeInstances(); err != nil {
		t.Errorf("DescribeInstances under a DescribeAutoScalingGroups fault: %v", err)
	}
	for i := range 2 {
		err := describe()
		var status interface{ HTTPStatusCode() int }
		if code, _ := apiCode(t, err); code != "ResourceContention" || !errors.As(err, &status) || status.HTTPStatusCode() != 500 {
			t.Errorf("call %d: %v, want ResourceContention 500", i, err)
		}
	}
	if err := describe(); err != nil {
		t.Errorf("third call: %v, want success", err)
	}

	// Until: every action until the clock reaches it, in each service's error shape.
	f.fake.InjectFault(fakeaws.Fault{Code: "RequestLimitExceeded", Until: start.Add(10 * time.Second)})
	err := describeInstances()
	if code, msg := apiCode(t, err); code != "RequestLimitExceeded" || msg != "Request limit exceeded." {
		t.Errorf("EC2 throttled: %s %q", code, msg)
	}
	if code, _ := apiCode(t, describe()); code != "RequestLimitExceeded" {
		t.Errorf("Auto Scaling throttled: %s", code)
	}
	f.clock.Step(10 * time.Second)
	if err := describeInstances(); err != nil {
		t.Errorf("after Until: %v", err)
	}

	// Delay: a slow answer, cut short by the caller's deadline.
	f.fake.InjectFault(fakeaws.Fault{Action: "DescribeAutoScalingGroups", Delay: 10 * time.Second, Times: 1})
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = f.asg.DescribeAutoScalingGroups(dctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"agents"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 2*time.Second {
		t.Errorf("slow answer: %v after %s, want a deadline error after about 20 ms", err, time.Since(began))
	}

	// The call log records outcomes.
	var codes []string
	for _, c := range f.fake.Calls() {
		if c.Action == "DescribeAutoScalingGroups" {
			codes = append(codes, c.Code)
		}
	}
	// The slow call is logged ("RequestCanceled") once the server notices the client gone,
	// which may be after the client returned.
	if len(codes) < 4 || !slices.Equal(codes[:4], []string{"ResourceContention", "ResourceContention", "", "RequestLimitExceeded"}) {
		t.Errorf("DescribeAutoScalingGroups outcomes %q", codes)
	}
	if n := f.fake.SuccessCount("DescribeInstances"); n != 2 {
		t.Errorf("successful DescribeInstances = %d, want 2", n)
	}
	f.fake.ClearFaults()
	if err := describe(); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestLaunchFailuresAndRetry(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 0})
	if err := f.fake.InjectLaunchFailures("agents", 2, "Your quota allows for 0 more running instance(s)."); err != nil {
		t.Fatal(err)
	}
	f.setDesired(t, "agents", 1)
	if n := len(f.instances(t, "agents")); n != 0 {
		t.Errorf("instances after a failed launch = %d, want 0", n)
	}
	// Observed only 20 s later: the second failure (+10 s) and the launch (+20 s) are dated
	// when they were due.
	f.clock.Step(20 * time.Second)
	ins := f.instances(t, "agents")
	if len(ins) != 1 || !ins[0].LaunchTime.Equal(start.Add(20*time.Second)) {
		t.Fatalf("instances %+v, want one launched at +20 s", ins)
	}
	out, err := f.asg.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("agents")})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, a := range out.Activities {
		statuses = append(statuses, string(a.StatusCode))
	}
	if !slices.Equal(statuses, []string{"InProgress", "Failed", "Failed"}) {
		t.Errorf("activities newest first: %v, want InProgress, Failed, Failed", statuses)
	}
	if msg := aws.ToString(out.Activities[1].StatusMessage); msg != "Your quota allows for 0 more running instance(s). Launching EC2 instance failed." {
		t.Errorf("failure message %q", msg)
	}
}

// TestWireFormat checks the raw answers a non-SDK client sees.
func TestWireFormat(t *testing.T) {
	f := newFixture(t, fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 3, DesiredCapacity: 1})
	post := func(form url.Values) (int, string) {
		resp, err := http.PostForm(f.url+"/", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := post(url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}, "AutoScalingGroupNames.member.1": {"agents"}})
	for _, want := range []string{
		`<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">`,
		`<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><AutoScalingGroupName>agents</AutoScalingGroupName>`,
		`<Instances><member><InstanceId>i-`,
		`<ResponseMetadata><RequestId>`,
	} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("answer %d %s lacks %s", status, body, want)
		}
	}
	status, body = post(url.Values{"Action": {"SetDesiredCapacity"}, "Version": {"2011-01-01"}, "AutoScalingGroupName": {"agents"}, "DesiredCapacity": {"4"}})
	if want := `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>New SetDesiredCapacity value 4 is above max value 3 for the AutoScalingGroup.</Message></Error><RequestId>`; status != 400 || !strings.HasPrefix(body, want) {
		t.Errorf("error answer %d %s, want 400 %s...", status, body, want)
	}
	status, body = post(url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "InstanceId.1": {"i-0000000000000dead"}})
	if want := "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"; status != 400 || !strings.Contains(body, want) {
		t.Errorf("EC2 error answer %d %s, want 400 %s", status, body, want)
	}
	status, body = post(url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}})
	if want := `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`; status != 200 || !strings.Contains(body, want) ||
		!strings.Contains(body, "<reservationSet><item>") || !strings.Contains(body, "<instancesSet><item><instanceId>i-") {
		t.Errorf("EC2 answer %d %s lacks %s", status, body, want)
	}
	f.fake.InjectFault(fakeaws.Fault{HTML: true, Times: 1})
	status, body = post(url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}})
	if status != 503 || !strings.HasPrefix(body, "<!DOCTYPE html>") {
		t.Errorf("HTML fault answer %d %s", status, body)
	}
}
