package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
)

// start is the fake clock's start; its zone and date matter to no test.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is the real Client against a fakeaws.Server on loopback, both on one fake clock.
type env struct {
	t      *testing.T
	clock  *testingclock.FakeClock
	fake   *fakeaws.Server
	url    string
	client *Client
}

// newEnv starts a fake with opts (its Clock is set here) and a Client pointed at it with
// static credentials, RetryMaxAttempts 3 and a 1 ms backoff cap.
func newEnv(t *testing.T, opts fakeaws.Options) *env {
	t.Helper()
	clk := testingclock.NewFakeClock(start)
	opts.Clock = clk
	fake := fakeaws.New(opts)
	url, stop := fake.Start()
	t.Cleanup(stop)
	c, err := New(context.Background(), Options{
		Region:           "us-east-1",
		EndpointURL:      url,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Clock:            clk,
		RetryMaxAttempts: 3,
		RetryMaxBackoff:  time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, clock: clk, fake: fake, url: url, client: c}
}

// group creates a group in the fake.
func (e *env) group(c fakeaws.GroupConfig) {
	e.t.Helper()
	if err := e.fake.CreateGroup(c); err != nil {
		e.t.Fatal(err)
	}
}

// describe describes names and fails the test on error.
func (e *env) describe(names ...string) map[string]cloud.Group {
	e.t.Helper()
	groups, err := e.client.DescribeGroups(context.Background(), names)
	if err != nil {
		e.t.Fatalf("DescribeGroups(%v): %v", names, err)
	}
	return groups
}

// fakeGroup returns the fake's view of a group.
func (e *env) fakeGroup(name string) fakeaws.GroupView {
	e.t.Helper()
	g, ok := e.fake.Group(name)
	if !ok {
		e.t.Fatalf("the fake has no group %q", name)
	}
	return g
}

// raw returns a plain SDK Auto Scaling client on the fake, acting as someone else (an
// operator, another tool), without retries.
func (e *env) raw() *autoscaling.Client {
	return autoscaling.New(autoscaling.Options{
		Region:           "us-east-1",
		BaseEndpoint:     sdkaws.String(e.url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func ids(instances []fakeaws.InstanceView) []string {
	out := make([]string, len(instances))
	for i, in := range instances {
		out[i] = in.ID
	}
	return out
}

func states(instances []fakeaws.InstanceView) map[string]string {
	out := map[string]string{}
	for _, in := range instances {
		out[in.ID] = in.LifecycleState
	}
	return out
}

func TestDescribeGroupsTwoGroupsOneCall(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents-general", MinSize: 1, MaxSize: 10, DesiredCapacity: 3,
		SuspendedProcesses: []string{"AZRebalance"}})
	// Weighted: desired 4 capacity units = two m5.2xlarge of weight 2.
	e.group(fakeaws.GroupConfig{Name: "agents-gpu", MinSize: 0, MaxSize: 8, DesiredCapacity: 4,
		InstanceTypes: []fakeaws.InstanceTypeWeight{{InstanceType: "m5.2xlarge", WeightedCapacity: 2}}})

	groups := e.describe("agents-general", "agents-gpu")
	if n := e.fake.CallCount("DescribeAutoScalingGroups"); n != 1 {
		t.Errorf("DescribeAutoScalingGroups calls = %d, want 1 for both groups", n)
	}
	if n := e.fake.CallCount("DescribeInstances"); n != 1 {
		t.Errorf("DescribeInstances calls = %d, want 1 for all new instances", n)
	}

	general, gpu := groups["agents-general"], groups["agents-gpu"]
	if general.MinSize != 1 || general.MaxSize != 10 || general.DesiredCapacity != 3 || len(general.Instances) != 3 {
		t.Errorf("agents-general: min %d max %d desired %d instances %d, want 1 10 3 3",
			general.MinSize, general.MaxSize, general.DesiredCapacity, len(general.Instances))
	}
	if !general.IsSuspended("AZRebalance") {
		t.Errorf("agents-general suspended processes = %v, want AZRebalance", general.SuspendedProcesses)
	}
	want := map[string]fakeaws.InstanceView{}
	for _, name := range []string{"agents-general", "agents-gpu"} {
		for _, in := range e.fake.Instances(name) {
			want[in.ID] = in
		}
	}
	for _, g := range []cloud.Group{general, gpu} {
		for _, in := range g.Instances {
			w, ok := want[in.ID]
			if !ok {
				t.Errorf("%s: instance %s is not in the fake", g.Name, in.ID)
				continue
			}
			if in.PrivateIP != w.PrivateIP || in.PrivateDNSName != w.PrivateDNSName || in.PrivateIP == "" {
				t.Errorf("%s: instance %s address %q %q, want %q %q", g.Name, in.ID, in.PrivateIP, in.PrivateDNSName, w.PrivateIP, w.PrivateDNSName)
			}
			if in.InstanceType != w.InstanceType || in.AvailabilityZone != w.AvailabilityZone || in.LifecycleState != cloud.StateInService ||
				in.EC2State != "running" || !in.LaunchTime.Equal(start) || in.HealthStatus != "Healthy" {
				t.Errorf("%s: instance %+v does not match the fake's %+v", g.Name, in, w)
			}
		}
	}
	if len(gpu.Instances) != 2 || gpu.Instances[0].WeightedCapacity != 2 {
		t.Errorf("agents-gpu instances = %+v, want 2 of weight 2", gpu.Instances)
	}
	if len(gpu.InstanceTypes) != 1 || gpu.InstanceTypes[0] != (cloud.InstanceTypeWeight{InstanceType: "m5.2xlarge", WeightedCapacity: 2}) {
		t.Errorf("agents-gpu instance types = %+v, want m5.2xlarge weight 2", gpu.InstanceTypes)
	}

	// Unchanged members: the second describe asks EC2 nothing.
	again := e.describe("agents-general", "agents-gpu")
	if n := e.fake.CallCount("DescribeInstances"); n != 1 {
		t.Errorf("DescribeInstances calls after a second describe = %d, want still 1", n)
	}
	if again["agents-general"].Instances[0].PrivateIP != general.Instances[0].PrivateIP {
		t.Errorf("cached address %q, want %q", again["agents-general"].Instances[0].PrivateIP, general.Instances[0].PrivateIP)
	}
	if got, want := e.client.Calls(), map[string]int{"DescribeAutoScalingGroups": 2, "DescribeInstances": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Calls() = %v, want %v", got, want)
	}
}

func TestDescribeGroupsPaginates(t *testing.T) {
	t.Run("pages", func(t *testing.T) {
		// The fake answers at most 2 groups a page: 5 groups take 3 pages.
		e := newEnv(t, fakeaws.Options{MaxPageSize: 2})
		var names []string
		for i := range 5 {
			name := fmt.Sprintf("agents-%d", i)
			names = append(names, name)
			e.group(fakeaws.GroupConfig{Name: name, MinSize: 0, MaxSize: 5, DesiredCapacity: 1})
		}
		groups := e.describe(names...)
		if len(groups) != 5 {
			t.Errorf("described %d groups, want 5", len(groups))
		}
		if n := e.fake.CallCount("DescribeAutoScalingGroups"); n != 3 {
			t.Errorf("DescribeAutoScalingGroups calls = %d, want 3 pages", n)
		}
		if n := e.fake.CallCount("DescribeInstances"); n != 1 {
			t.Errorf("DescribeInstances calls = %d, want 1", n)
		}
	})
	t.Run("more names than one request takes", func(t *testing.T) {
		// 150 names: AWS takes at most 100 per request (MaxRecords=100), so 2 requests.
		e := newEnv(t, fakeaws.Options{})
		var names []string
		for i := range 150 {
			name := fmt.Sprintf("agents-%03d", i)
			names = append(names, name)
			e.group(fakeaws.GroupConfig{Name: name, MinSize: 0, MaxSize: 5, DesiredCapacity: 0})
		}
		groups := e.describe(names...)
		if len(groups) != 150 {
			t.Errorf("described %d groups, want 150", len(groups))
		}
		calls := e.fake.Calls()
		if len(calls) != 2 {
			t.Fatalf("calls = %d, want 2 DescribeAutoScalingGroups", len(calls))
		}
		for _, c := range calls {
			if c.Action != "DescribeAutoScalingGroups" || c.Code != "" || c.Params["MaxRecords"] != "100" {
				t.Errorf("call %+v, want a successful DescribeAutoScalingGroups with MaxRecords=100", c)
			}
		}
	})
}

func TestDescribeGroupsMissingGroupIsAnError(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 4, DesiredCapacity: 1})

	groups, err := e.client.DescribeGroups(context.Background(), []string{"agents", "agents-typo"})
	if !errors.Is(err, cloud.ErrGroupNotFound) {
		t.Fatalf("DescribeGroups error = %v, want one wrapping ErrGroupNotFound", err)
	}
	var missing *cloud.MissingGroupsError
	if !errors.As(err, &missing) || !slices.Equal(missing.Names, []string{"agents-typo"}) {
		t.Errorf("missing groups = %+v, want [agents-typo]", missing)
	}
	if !strings.Contains(err.Error(), `"agents-typo"`) {
		t.Errorf("error %q does not name the missing group", err)
	}
	if g, ok := groups["agents"]; !ok || g.DesiredCapacity != 1 {
		t.Errorf("found groups = %v, want agents with desired 1", groups)
	}

	// Only missing groups: an error, never an empty group.
	groups, err = e.client.DescribeGroups(context.Background(), []string{"nothing-here"})
	if !errors.Is(err, cloud.ErrGroupNotFound) || len(groups) != 0 {
		t.Errorf("DescribeGroups(nothing-here) = %v, %v; want no group and ErrGroupNotFound", groups, err)
	}
	// A missing group authorizes no write.
	if err := e.client.SetDesiredCapacity(context.Background(), "nothing-here", 2); !errors.Is(err, cloud.ErrNotDescribed) {
		t.Errorf("SetDesiredCapacity on a missing group: %v, want ErrNotDescribed", err)
	}
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 0 {
		t.Errorf("SetDesiredCapacity calls = %d, want 0", n)
	}
	// No name at all would describe the whole account: refused.
	if _, err := e.client.DescribeGroups(context.Background(), nil); err == nil {
		t.Error("DescribeGroups(nil) succeeded, want an error")
	}
}

func TestSetDesiredCapacityGrows(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	e.describe("agents")
	before := ids(e.fake.Instances("agents"))

	if err := e.client.SetDesiredCapacity(context.Background(), "agents", 4); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	g := e.fakeGroup("agents")
	if g.DesiredCapacity != 4 || len(g.Instances) != 4 {
		t.Fatalf("fake group desired %d with %d instances, want 4 and 4", g.DesiredCapacity, len(g.Instances))
	}
	var launched []string
	for _, in := range g.Instances {
		if !slices.Contains(before, in.ID) {
			launched = append(launched, in.ID)
			if in.LifecycleState != fakeaws.StatePending {
				t.Errorf("new instance %s is %s, want Pending", in.ID, in.LifecycleState)
			}
		}
	}
	if len(launched) != 2 {
		t.Fatalf("launched %v, want 2 instances", launched)
	}
	calls := e.fake.Calls()
	last := calls[len(calls)-1]
	if last.Action != "SetDesiredCapacity" || last.Params["DesiredCapacity"] != "4" || last.Params["HonorCooldown"] != "false" {
		t.Errorf("last call %+v, want SetDesiredCapacity 4 with HonorCooldown=false", last)
	}

	// Pending instances are described with their addresses already; EC2 says "pending", so
	// they are asked about again until EC2 says "running".
	grown := e.describe("agents")["agents"]
	upcoming := 0
	for _, in := range grown.Instances {
		if in.IsUpcoming() {
			upcoming++
			if in.PrivateIP == "" || in.EC2State != "pending" {
				t.Errorf("pending instance %s: address %q, EC2 state %q; want an address and pending", in.ID, in.PrivateIP, in.EC2State)
			}
		}
	}
	if upcoming != 2 {
		t.Errorf("upcoming instances = %d, want 2", upcoming)
	}

	e.clock.Step(29 * time.Second)
	if s := states(e.fake.Instances("agents")); s[launched[0]] != fakeaws.StatePending {
		t.Errorf("after 29 s %s is %s, want Pending", launched[0], s[launched[0]])
	}
	e.clock.Step(time.Second)
	for id, s := range states(e.fake.Instances("agents")) {
		if s != fakeaws.StateInService {
			t.Errorf("after 30 s %s is %s, want InService", id, s)
		}
	}
	ec2Before := e.fake.CallCount("DescribeInstances")
	for _, in := range e.describe("agents")["agents"].Instances {
		if !in.IsInService() || in.EC2State != "running" {
			t.Errorf("instance %s: %s / %s, want InService / running", in.ID, in.LifecycleState, in.EC2State)
		}
	}
	e.describe("agents")
	if n := e.fake.CallCount("DescribeInstances") - ec2Before; n != 1 {
		t.Errorf("DescribeInstances calls for two describes after the launch = %d, want 1 (then all known running)", n)
	}

	acts, err := e.client.ScalingActivities(context.Background(), "agents", 10)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	// Newest first: the two launches of SetDesiredCapacity, then the two of the creation.
	if len(acts) != 4 {
		t.Fatalf("activities = %d, want 4", len(acts))
	}
	for i, a := range acts[:2] {
		if a.StatusCode != cloud.ActivitySuccessful || a.Progress != 100 || !a.EndTime.Equal(start.Add(30*time.Second)) ||
			!strings.Contains(a.Description, "Launching a new EC2 instance: i-") {
			t.Errorf("activity %d = %+v, want a successful launch ended at +30 s", i, a)
		}
		if !strings.Contains(a.Cause, "changing the desired capacity from 2 to 4") {
			t.Errorf("activity %d cause %q does not say desired went from 2 to 4", i, a.Cause)
		}
	}
	if one, _ := e.client.ScalingActivities(context.Background(), "agents", 1); len(one) != 1 || one[0].ID != acts[0].ID {
		t.Errorf("ScalingActivities(1) = %+v, want the newest only", one)
	}
}

func TestSetDesiredCapacityRefusedLocally(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 2, MaxSize: 6, DesiredCapacity: 3})
	ctx := context.Background()

	if err := e.client.SetDesiredCapacity(ctx, "agents", 4); !errors.Is(err, cloud.ErrNotDescribed) {
		t.Errorf("before any describe: %v, want ErrNotDescribed", err)
	}
	e.describe("agents")
	for _, c := range []struct {
		desired int32
		want    error
	}{
		{7, cloud.ErrOutsideBounds},  // demand above MaxSize is never sent
		{1, cloud.ErrOutsideBounds},  // below MinSize
		{2, cloud.ErrLowersDesired},  // shrinking by desired capacity would let AWS choose
		{-1, cloud.ErrOutsideBounds}, // nonsense
	} {
		if err := e.client.SetDesiredCapacity(ctx, "agents", c.desired); !errors.Is(err, c.want) {
			t.Errorf("SetDesiredCapacity(%d) = %v, want %v", c.desired, err, c.want)
		}
	}
	// Already there: success without a call.
	if err := e.client.SetDesiredCapacity(ctx, "agents", 3); err != nil {
		t.Errorf("SetDesiredCapacity(3) at desired 3: %v", err)
	}
	// A description older than DescribeMaxAge authorizes nothing.
	e.clock.Step(DefaultDescribeMaxAge + time.Second)
	if err := e.client.SetDesiredCapacity(ctx, "agents", 5); !errors.Is(err, cloud.ErrNotDescribed) {
		t.Errorf("with a stale description: %v, want ErrNotDescribed", err)
	}
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 0 {
		t.Errorf("SetDesiredCapacity calls = %d, want 0", n)
	}
	if g := e.fakeGroup("agents"); g.DesiredCapacity != 3 {
		t.Errorf("fake desired = %d, want 3", g.DesiredCapacity)
	}
}

func TestScalingActivityInProgressThenSuccessActsOnce(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	e.fake.InjectFault(fakeaws.Fault{Action: "SetDesiredCapacity", Code: "ScalingActivityInProgress", Times: 3})

	// The controller's loop: describe, act; on a retryable error requeue (here: at once).
	var failures int
	for attempt := 1; ; attempt++ {
		if attempt > 10 {
			t.Fatal("no success after 10 reconciles")
		}
		e.describe("agents")
		err := e.client.SetDesiredCapacity(context.Background(), "agents", 5)
		if err == nil {
			break
		}
		failures++
		if !cloud.IsRetryable(err) || cloud.IsThrottling(err) || cloud.IsValidation(err) ||
			cloud.ErrorCode(err) != cloud.CodeScalingActivityInProgress || cloud.HTTPStatus(err) != 400 {
			t.Errorf("attempt %d: %v (code %q, status %d), want a retryable ScalingActivityInProgress 400",
				attempt, err, cloud.ErrorCode(err), cloud.HTTPStatus(err))
		}
		// After a failed write the client wants a fresh description.
		if err := e.client.SetDesiredCapacity(context.Background(), "agents", 5); !errors.Is(err, cloud.ErrNotDescribed) {
			t.Errorf("write right after a failure: %v, want ErrNotDescribed", err)
		}
	}
	if failures != 3 {
		t.Errorf("retryable failures = %d, want 3", failures)
	}
	// 4 requests: the SDK did not retry the busy group behind the controller's back.
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 4 {
		t.Errorf("SetDesiredCapacity requests = %d, want 4 (3 refused + 1)", n)
	}
	if n := e.fake.SuccessCount("SetDesiredCapacity"); n != 1 {
		t.Errorf("successful SetDesiredCapacity = %d, want 1", n)
	}
	g := e.fakeGroup("agents")
	if g.DesiredCapacity != 5 || len(g.Instances) != 5 {
		t.Errorf("fake desired %d with %d instances, want 5 and 5", g.DesiredCapacity, len(g.Instances))
	}
	// The same decision again makes no second write.
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(context.Background(), "agents", 5); err != nil {
		t.Errorf("repeating the decision: %v", err)
	}
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 4 {
		t.Errorf("SetDesiredCapacity requests after repeating = %d, want still 4", n)
	}
}

func TestThrottlingForTheFirstTenSeconds(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	e.fake.InjectFault(fakeaws.Fault{Code: "Throttling", Until: start.Add(10 * time.Second)})
	ctx := context.Background()

	for _, at := range []time.Duration{0, 5 * time.Second, 9*time.Second + 999*time.Millisecond} {
		e.clock.SetTime(start.Add(at))
		e.fake.ResetCalls()
		_, err := e.client.DescribeGroups(ctx, []string{"agents"})
		if !cloud.IsThrottling(err) || !cloud.IsRetryable(err) || cloud.ErrorCode(err) != cloud.CodeThrottling {
			t.Fatalf("at +%s: %v, want a retryable Throttling error", at, err)
		}
		// The SDK's retryer backs off and retries throttling, up to RetryMaxAttempts.
		var ae *cloud.APIError
		if n := e.fake.CallCount("DescribeAutoScalingGroups"); n != 3 || !errors.As(err, &ae) || ae.Attempts != 3 {
			t.Errorf("at +%s: %d requests (error says %d attempts), want 3", at, n, ae.Attempts)
		}
	}
	// The client counts what AWS counts: every attempt, retries included.
	if n := e.client.Calls()["DescribeAutoScalingGroups"]; n != 9 {
		t.Errorf("client-counted DescribeAutoScalingGroups requests = %d, want 9 (3 calls of 3 attempts)", n)
	}
	e.clock.SetTime(start.Add(10 * time.Second))
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(ctx, "agents", 3); err != nil {
		t.Fatalf("SetDesiredCapacity after the throttling: %v", err)
	}
	if g := e.fakeGroup("agents"); g.DesiredCapacity != 3 {
		t.Errorf("fake desired = %d, want 3", g.DesiredCapacity)
	}
}

func TestServerErrorsAreRetryableWithClearMessages(t *testing.T) {
	ctx := context.Background()
	t.Run("ResourceContention on a write is not retried by the SDK", func(t *testing.T) {
		e := newEnv(t, fakeaws.Options{})
		e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
		e.describe("agents")
		e.fake.InjectFault(fakeaws.Fault{Action: "SetDesiredCapacity", Code: "ResourceContention"})
		err := e.client.SetDesiredCapacity(ctx, "agents", 4)
		if !cloud.IsRetryable(err) || cloud.ErrorCode(err) != cloud.CodeResourceContention || cloud.HTTPStatus(err) != 500 {
			t.Fatalf("error %v (code %q, status %d), want a retryable ResourceContention 500", err, cloud.ErrorCode(err), cloud.HTTPStatus(err))
		}
		if !strings.Contains(err.Error(), "pending update to an Auto Scaling resource") {
			t.Errorf("error %q lacks AWS's message", err)
		}
		if n := e.fake.CallCount("SetDesiredCapacity"); n != 1 {
			t.Errorf("SetDesiredCapacity requests = %d, want 1", n)
		}
		if g := e.fakeGroup("agents"); g.DesiredCapacity != 2 {
			t.Errorf("fake desired = %d, want 2", g.DesiredCapacity)
		}
	})
	t.Run("ResourceContention on a read is retried by the SDK", func(t *testing.T) {
		e := newEnv(t, fakeaws.Options{})
		e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
		e.fake.InjectFault(fakeaws.Fault{Action: "DescribeAutoScalingGroups", Code: "ResourceContention", Times: 2})
		if g := e.describe("agents")["agents"]; g.DesiredCapacity != 2 {
			t.Errorf("desired = %d, want 2", g.DesiredCapacity)
		}
		if n := e.fake.CallCount("DescribeAutoScalingGroups"); n != 3 {
			t.Errorf("DescribeAutoScalingGroups requests = %d, want 3 (2 refused, then success)", n)
		}
	})
	for _, action := range []string{"DescribeAutoScalingGroups", "DescribeInstances", "SetDesiredCapacity"} {
		t.Run("HTML 503 on "+action, func(t *testing.T) {
			e := newEnv(t, fakeaws.Options{})
			e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
			if action == "SetDesiredCapacity" {
				e.describe("agents")
			}
			e.fake.InjectFault(fakeaws.Fault{Action: action, HTML: true})
			var err error
			if action == "SetDesiredCapacity" {
				err = e.client.SetDesiredCapacity(ctx, "agents", 4)
			} else {
				_, err = e.client.DescribeGroups(ctx, []string{"agents"})
			}
			if !cloud.IsRetryable(err) || cloud.HTTPStatus(err) != 503 || cloud.ErrorCode(err) != "" {
				t.Fatalf("error %v (code %q, status %d), want a retryable HTTP 503 without a code", err, cloud.ErrorCode(err), cloud.HTTPStatus(err))
			}
			msg := err.Error()
			if !strings.Contains(msg, "not an AWS error document") || !strings.Contains(msg, "HTTP 503 Service Unavailable") ||
				!strings.Contains(msg, action) || strings.Contains(msg, "XML syntax") || strings.Contains(msg, "UnknownError") {
				t.Errorf("error %q, want a plain statement that %s answered a non-AWS 503", msg, action)
			}
			if n := e.fake.CallCount(action); n != 3 {
				t.Errorf("%s requests = %d, want 3 (5xx is retried by the SDK)", action, n)
			}
		})
	}
}

func TestTerminateInstanceRemovesExactlyThatInstance(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 3})
	e.describe("agents")
	members := ids(e.fake.Instances("agents"))
	victim := members[1] // not the one AWS's default policy would pick

	if err := e.client.TerminateInstance(context.Background(), "agents", victim); err != nil {
		t.Fatalf("TerminateInstance: %v", err)
	}
	g := e.fakeGroup("agents")
	if g.DesiredCapacity != 2 {
		t.Errorf("fake desired = %d, want 2", g.DesiredCapacity)
	}
	want := map[string]string{members[0]: fakeaws.StateInService, members[1]: fakeaws.StateTerminating, members[2]: fakeaws.StateInService}
	if got := states(g.Instances); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fake instances = %v, want %v (no replacement launched)", got, want)
	}
	last := e.fake.Calls()[len(e.fake.Calls())-1]
	if last.Params["ShouldDecrementDesiredCapacity"] != "true" || last.Params["InstanceId"] != victim {
		t.Errorf("last call %+v, want a decrementing termination of %s", last, victim)
	}

	// Repeating the decision makes no second write: the instance is refused as already
	// terminating. A stranger is refused.
	var notInService *cloud.NotInServiceError
	if err := e.client.TerminateInstance(context.Background(), "agents", victim); !errors.As(err, &notInService) ||
		!notInService.AlreadyTerminating() || notInService.LifecycleState != cloud.StateTerminating {
		t.Errorf("terminating %s again: %v, want a NotInServiceError for a Terminating instance", victim, err)
	}
	if err := e.client.TerminateInstance(context.Background(), "agents", "i-0123456789abcdef0"); !errors.Is(err, cloud.ErrNotMember) {
		t.Errorf("terminating a non-member: %v, want ErrNotMember", err)
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 1 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 1", n)
	}

	e.clock.Step(20 * time.Second)
	if got := ids(e.fake.Instances("agents")); !slices.Equal(got, []string{members[0], members[2]}) {
		t.Errorf("after 20 s members = %v, want %v", got, []string{members[0], members[2]})
	}
	g2 := e.describe("agents")["agents"]
	if g2.DesiredCapacity != 2 || len(g2.Instances) != 2 {
		t.Errorf("described desired %d with %d instances, want 2 and 2", g2.DesiredCapacity, len(g2.Instances))
	}
}

func TestTerminateInstanceWeighted(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	// 3 instances of weight 2: desired 6 units, min 2.
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 2, MaxSize: 12, DesiredCapacity: 6,
		InstanceTypes: []fakeaws.InstanceTypeWeight{{InstanceType: "m5.2xlarge", WeightedCapacity: 2}}})
	e.describe("agents")
	members := ids(e.fake.Instances("agents"))
	if err := e.client.TerminateInstance(context.Background(), "agents", members[0]); err != nil {
		t.Fatalf("TerminateInstance: %v", err)
	}
	if g := e.fakeGroup("agents"); g.DesiredCapacity != 4 {
		t.Errorf("fake desired = %d, want 4 (6 - weight 2)", g.DesiredCapacity)
	}
	if err := e.client.TerminateInstance(context.Background(), "agents", members[1]); err != nil {
		t.Fatalf("TerminateInstance: %v", err)
	}
	// 2 - 2 = 0 < MinSize 2: refused without a call.
	if err := e.client.TerminateInstance(context.Background(), "agents", members[2]); !errors.Is(err, cloud.ErrOutsideBounds) {
		t.Errorf("terminating below MinSize: %v, want ErrOutsideBounds", err)
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 2 {
		t.Errorf("TerminateInstanceInAutoScalingGroup requests = %d, want 2", n)
	}
}

func TestTerminateInstanceAtMinSize(t *testing.T) {
	ctx := context.Background()
	t.Run("refused locally", func(t *testing.T) {
		e := newEnv(t, fakeaws.Options{})
		e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 2, MaxSize: 10, DesiredCapacity: 2})
		e.describe("agents")
		err := e.client.TerminateInstance(ctx, "agents", e.fake.Instances("agents")[0].ID)
		if !errors.Is(err, cloud.ErrOutsideBounds) {
			t.Errorf("TerminateInstance at MinSize: %v, want ErrOutsideBounds", err)
		}
		if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 0 {
			t.Errorf("requests = %d, want 0", n)
		}
	})
	t.Run("refused by AWS after someone raised MinSize", func(t *testing.T) {
		e := newEnv(t, fakeaws.Options{})
		e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
		e.describe("agents")
		victim := e.fake.Instances("agents")[0].ID
		if _, err := e.raw().UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String("agents"), MinSize: sdkaws.Int32(2),
		}); err != nil {
			t.Fatalf("UpdateAutoScalingGroup: %v", err)
		}

		err := e.client.TerminateInstance(ctx, "agents", victim)
		const text = "Currently, desiredSize equals minSize (2). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size."
		if !cloud.IsValidation(err) || cloud.IsRetryable(err) || cloud.ErrorCode(err) != cloud.CodeValidationError || !strings.Contains(err.Error(), text) {
			t.Fatalf("error %v, want a non-retryable ValidationError saying %q", err, text)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("terminating instance %s of Auto Scaling group \"agents\"", victim)) {
			t.Errorf("error %q lacks context", err)
		}
		// The failed write invalidated the view: no blind repeat.
		if err := e.client.TerminateInstance(ctx, "agents", victim); !errors.Is(err, cloud.ErrNotDescribed) {
			t.Errorf("repeat without describing: %v, want ErrNotDescribed", err)
		}
		e.describe("agents")
		if err := e.client.TerminateInstance(ctx, "agents", victim); !errors.Is(err, cloud.ErrOutsideBounds) {
			t.Errorf("repeat after describing: %v, want ErrOutsideBounds", err)
		}
		if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
		if g := e.fakeGroup("agents"); g.DesiredCapacity != 2 || len(g.Instances) != 2 {
			t.Errorf("fake desired %d with %d instances, want 2 and 2", g.DesiredCapacity, len(g.Instances))
		}
	})
}

func TestSetDesiredCapacityRefusedByAWSAfterSomeoneLoweredMaxSize(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	e.describe("agents")
	if _, err := e.raw().UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: sdkaws.String("agents"), MaxSize: sdkaws.Int32(3),
	}); err != nil {
		t.Fatalf("UpdateAutoScalingGroup: %v", err)
	}
	err := e.client.SetDesiredCapacity(ctx, "agents", 5)
	const text = "New SetDesiredCapacity value 5 is above max value 3 for the AutoScalingGroup."
	if !cloud.IsValidation(err) || !strings.Contains(err.Error(), text) ||
		!strings.Contains(err.Error(), `setting desired capacity of Auto Scaling group "agents" to 5`) {
		t.Fatalf("error %v, want a ValidationError saying %q with context", err, text)
	}
	if err := e.client.SetDesiredCapacity(ctx, "agents", 5); !errors.Is(err, cloud.ErrNotDescribed) {
		t.Errorf("repeat without describing: %v, want ErrNotDescribed", err)
	}
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(ctx, "agents", 5); !errors.Is(err, cloud.ErrOutsideBounds) {
		t.Errorf("repeat after describing: %v, want ErrOutsideBounds", err)
	}
	if n := e.fake.CallCount("SetDesiredCapacity"); n != 1 {
		t.Errorf("SetDesiredCapacity requests = %d, want 1", n)
	}
	if g := e.fakeGroup("agents"); g.DesiredCapacity != 2 {
		t.Errorf("fake desired = %d, want 2", g.DesiredCapacity)
	}
}

func TestTerminateProtectedInstanceRefused(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	ctx := context.Background()
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 0, MaxSize: 10, DesiredCapacity: 2})
	protected := e.fake.Instances("agents")[0].ID
	if _, err := e.raw().SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: sdkaws.String("agents"), InstanceIds: []string{protected}, ProtectedFromScaleIn: sdkaws.Bool(true),
	}); err != nil {
		t.Fatalf("SetInstanceProtection: %v", err)
	}
	g := e.describe("agents")["agents"]
	if !g.Instances[0].ProtectedFromScaleIn || g.Instances[1].ProtectedFromScaleIn {
		t.Errorf("protection = %v, %v; want true, false", g.Instances[0].ProtectedFromScaleIn, g.Instances[1].ProtectedFromScaleIn)
	}
	// AWS would terminate it (protection only keeps AWS from choosing it); the client
	// refuses, since the planner never chooses a protected instance.
	if err := e.client.TerminateInstance(ctx, "agents", protected); !errors.Is(err, cloud.ErrProtected) {
		t.Errorf("TerminateInstance of a protected instance: %v, want ErrProtected", err)
	}
	if n := e.fake.CallCount("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

func TestSlowAnswerHitsTheDeadline(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 2})
	e.fake.InjectFault(fakeaws.Fault{Action: "DescribeAutoScalingGroups", Delay: 5 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := e.client.DescribeGroups(ctx, []string{"agents"})
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("DescribeGroups took %s, want about the 50 ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !cloud.IsRetryable(err) {
		t.Fatalf("error %v, want a retryable deadline error", err)
	}
	if !strings.Contains(err.Error(), "DescribeAutoScalingGroups: no answer before the deadline") {
		t.Errorf("error %q, want it to say the describe got no answer in time", err)
	}
}

func TestScalingActivitiesReportFailedLaunches(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 1})
	if err := e.fake.InjectLaunchFailures("agents", 1, ""); err != nil {
		t.Fatal(err)
	}
	e.describe("agents")
	if err := e.client.SetDesiredCapacity(context.Background(), "agents", 2); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	acts, err := e.client.ScalingActivities(context.Background(), "agents", 0)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	if len(acts) != 2 || acts[0].StatusCode != cloud.ActivityFailed ||
		!strings.Contains(acts[0].StatusMessage, "do not have sufficient m5.xlarge capacity") {
		t.Fatalf("activities = %+v, want the failed launch first", acts)
	}
	// The group tries again after the retry interval (10 s) and the launch goes through.
	e.clock.Step(10 * time.Second)
	acts, err = e.client.ScalingActivities(context.Background(), "agents", 0)
	if err != nil {
		t.Fatalf("ScalingActivities: %v", err)
	}
	if len(acts) != 3 || acts[0].StatusCode != cloud.ActivityInProgress || !strings.HasPrefix(acts[0].Description, "Launching a new EC2 instance: i-") {
		t.Errorf("activities = %+v, want a launch in progress first", acts)
	}
}

func TestCredentialFailureIsNotAnAPIAnswer(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 1})
	c, err := New(context.Background(), Options{
		Region:      "us-east-1",
		EndpointURL: e.url,
		Credentials: sdkaws.CredentialsProviderFunc(func(context.Context) (sdkaws.Credentials, error) {
			return sdkaws.Credentials{}, errors.New("the web identity token file is unreadable")
		}),
		RetryMaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.DescribeGroups(context.Background(), []string{"agents"})
	if err == nil || !strings.Contains(err.Error(), "DescribeAutoScalingGroups: getting AWS credentials:") ||
		!strings.Contains(err.Error(), "the web identity token file is unreadable") || cloud.HTTPStatus(err) != 0 {
		t.Errorf("error %v (status %d), want a credentials error without an HTTP status", err, cloud.HTTPStatus(err))
	}
	if n := len(e.fake.Calls()); n != 0 {
		t.Errorf("the fake saw %d requests, want 0", n)
	}
}

func TestNewRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	c, err := New(context.Background(), Options{Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := c.asg.Options().Region; got != "eu-west-1" {
		t.Errorf("region from the chain = %q, want eu-west-1", got)
	}
	c, err = New(context.Background(), Options{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := c.ec2.Options().Region; got != "us-west-2" {
		t.Errorf("region from Options = %q, want us-west-2", got)
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	e := newEnv(t, fakeaws.Options{})
	e.group(fakeaws.GroupConfig{Name: "agents", MinSize: 1, MaxSize: 10, DesiredCapacity: 1})
	t.Setenv("AWS_ENDPOINT_URL", e.url)
	c, err := New(context.Background(), Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	groups, err := c.DescribeGroups(context.Background(), []string{"agents"})
	if err != nil || len(groups["agents"].Instances) != 1 {
		t.Fatalf("DescribeGroups through AWS_ENDPOINT_URL = %v, %v; want the fake's group", groups, err)
	}
}
