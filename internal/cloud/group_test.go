package cloud

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestLifecycleStateClasses(t *testing.T) {
	for _, c := range []struct {
		state                                               string
		capacity, upcoming, leaving, standby, warm, canTerm bool
	}{
		{StatePending, false, true, false, false, false, false},
		{StatePendingWait, false, true, false, false, false, false},
		{StatePendingProceed, false, true, false, false, false, false},
		{StateInService, true, false, false, false, false, true},
		{StateTerminating, false, false, true, false, false, false},
		{StateTerminatingWait, false, false, true, false, false, false},
		{StateTerminatingProceed, false, false, true, false, false, false},
		{StateTerminatingRetained, false, false, true, false, false, false},
		{StateTerminated, false, false, true, false, false, false},
		{StateDetaching, false, false, true, false, false, false},
		{StateDetached, false, false, true, false, false, false},
		{StateEnteringStandby, false, false, false, true, false, false},
		{StateStandby, false, false, false, true, false, false},
		{StateQuarantined, false, false, false, false, false, false},
		{"Warmed:Stopped", false, false, false, false, true, false},
		{"Warmed:Terminating:Wait", false, false, true, false, true, false},
		{"ReplacingRootVolume", false, false, false, false, false, false},
		{"", false, false, false, false, false, false},
	} {
		in := Instance{ID: "i-0abc", LifecycleState: c.state}
		got := []bool{in.IsCapacity(), in.IsUpcoming(), in.IsTerminatingOrGone(), in.IsStandby(), in.IsWarmPool(), in.CanTerminate()}
		want := []bool{c.capacity, c.upcoming, c.leaving, c.standby, c.warm, c.canTerm}
		if !slices.Equal(got, want) {
			t.Errorf("%q: capacity, upcoming, leaving, standby, warm pool, can terminate = %v, want %v", c.state, got, want)
		}
	}
}

func TestWeightsAndCapacityUnits(t *testing.T) {
	mixed := Group{
		Name: "agents", MinSize: 2, MaxSize: 40, DesiredCapacity: 11,
		InstanceTypes: []InstanceTypeWeight{{InstanceType: "m5.4xlarge", WeightedCapacity: 4}, {InstanceType: "m5.2xlarge", WeightedCapacity: 2}},
		Instances: []Instance{
			{ID: "i-01", InstanceType: "m5.4xlarge", WeightedCapacity: 4, LifecycleState: StateInService},
			{ID: "i-02", InstanceType: "m5.2xlarge", WeightedCapacity: 2, LifecycleState: StateInService},
			{ID: "i-03", InstanceType: "m5.2xlarge", LifecycleState: StateInService},                     // no weight reported: its type's, 2
			{ID: "i-04", InstanceType: "m5.xlarge", WeightedCapacity: 1, LifecycleState: StateInService}, // override removed, keeps 1
			{ID: "i-05", InstanceType: "m5.4xlarge", WeightedCapacity: 4, LifecycleState: StatePendingWait},
			{ID: "i-06", InstanceType: "m5.4xlarge", WeightedCapacity: 4, LifecycleState: StateTerminatingWait},
			{ID: "i-07", InstanceType: "m5.2xlarge", WeightedCapacity: 2, LifecycleState: StateStandby},
		},
	}
	for _, c := range []struct {
		name               string
		g                  Group
		weighted           bool
		weights            map[string]int32
		capacity, upcoming int32
	}{
		// Capacity: i-01 4 + i-02 2 + i-03 2 + i-04 1 = 9; upcoming: i-05 4. Terminating:Wait
		// and Standby count nowhere.
		{"mixed", mixed, true, map[string]int32{"m5.4xlarge": 4, "m5.2xlarge": 2, "m5.xlarge": 1, "c5.large": 1}, 9, 4},
		{"unweighted", Group{Instances: []Instance{
			{ID: "i-1", LifecycleState: StateInService}, {ID: "i-2", LifecycleState: StatePending}, {ID: "i-3", LifecycleState: StateInService},
		}}, false, map[string]int32{"m5.xlarge": 1}, 2, 1},
		{"weights all 1", Group{InstanceTypes: []InstanceTypeWeight{{InstanceType: "m5.xlarge", WeightedCapacity: 1}},
			Instances: []Instance{{ID: "i-1", InstanceType: "m5.xlarge", WeightedCapacity: 1, LifecycleState: StateInService}}},
			false, map[string]int32{"m5.xlarge": 1}, 1, 0},
		{"weighted member only", Group{Instances: []Instance{{ID: "i-1", InstanceType: "r5.2xlarge", WeightedCapacity: 3, LifecycleState: StateInService}}},
			true, map[string]int32{"r5.2xlarge": 3, "r5.large": 1}, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.g.Weighted(); got != c.weighted {
				t.Errorf("Weighted() = %v, want %v", got, c.weighted)
			}
			for typ, w := range c.weights {
				if got := c.g.WeightOf(typ); got != w {
					t.Errorf("WeightOf(%s) = %d, want %d", typ, got, w)
				}
			}
			if got := c.g.CapacityUnits(); got != c.capacity {
				t.Errorf("CapacityUnits() = %d, want %d", got, c.capacity)
			}
			if got := c.g.UpcomingUnits(); got != c.upcoming {
				t.Errorf("UpcomingUnits() = %d, want %d", got, c.upcoming)
			}
		})
	}
}

func TestFailedLaunches(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	acts := []Activity{ // newest first, as DescribeScalingActivities answers
		{ID: "cancelled", Description: "Launching a new EC2 instance: i-0a1b2c3d4e5f60009.  Status Reason: Instance failed to complete user's Lifecycle Action: Lifecycle Action with token e85eb647-4fe0-4909-b341-a6c42d8aba1f was abandoned: Lifecycle Action Completed with ABANDON Result",
			StatusCode: ActivityCancelled, StartTime: t0.Add(-5 * time.Minute), EndTime: t0.Add(30 * time.Second)},
		{ID: "in progress", Description: "Launching a new EC2 instance: i-0a1b2c3d4e5f60008", StatusCode: ActivityInProgress, StartTime: t0.Add(20 * time.Second)},
		{ID: "terminate failed", Description: "Terminating EC2 instance: i-0a1b2c3d4e5f60007", StatusCode: ActivityFailed, StartTime: t0.Add(15 * time.Second), EndTime: t0.Add(15 * time.Second)},
		{ID: "limit", Description: "Launching a new EC2 instance.  Status Reason: You have requested more instances (7) than your current instance limit of 6 allows for the specified instance type. Launching EC2 instance failed.",
			StatusCode: ActivityFailed, StartTime: t0.Add(10 * time.Second), EndTime: t0.Add(10 * time.Second)},
		{ID: "capacity", Description: "Launching a new EC2 instance.  Status Reason: We currently do not have sufficient m5.2xlarge capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.",
			StatusCode: ActivityFailed, StartTime: t0.Add(-time.Minute)},
		{ID: "ok", Description: "Launching a new EC2 instance: i-0a1b2c3d4e5f60006", StatusCode: ActivitySuccessful, StartTime: t0.Add(-2 * time.Minute)},
	}
	names := func(as []Activity) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	if got, want := names(FailedLaunches(acts, time.Time{})), []string{"cancelled", "limit", "capacity"}; !slices.Equal(got, want) {
		t.Errorf("FailedLaunches(all) = %v, want %v", got, want)
	}
	// Since t0: the cancelled one ended after t0 though it started before; "capacity"
	// (no end time) started before.
	if got, want := names(FailedLaunches(acts, t0)), []string{"cancelled", "limit"}; !slices.Equal(got, want) {
		t.Errorf("FailedLaunches(since t0) = %v, want %v", got, want)
	}
	if got := FailedLaunches(nil, t0); got != nil {
		t.Errorf("FailedLaunches(nil) = %v, want nil", got)
	}
}

func TestActivityInstanceID(t *testing.T) {
	for _, c := range []struct{ description, want string }{
		{"Launching a new EC2 instance: i-0a1b2c3d4e5f60009", "i-0a1b2c3d4e5f60009"},
		{"Launching a new EC2 instance: i-003a5b3ffe1e9358e.  Status Reason: Instance failed to complete user's Lifecycle Action", "i-003a5b3ffe1e9358e"},
		{"Terminating EC2 instance: i-04925c838b6438f14", "i-04925c838b6438f14"},
		{"Moving EC2 instance to Standby: i-05b4f7d5be44822a6", "i-05b4f7d5be44822a6"},
		{"Launching a new EC2 instance.  Status Reason: Your quota allows for 0 more running instance(s). Launching EC2 instance failed.", ""},
		{"Launching a new EC2 instance.  Status Reason: We currently do not have sufficient capacity", ""},
		{"Launching a new EC2 instance: i-", ""},
		{"", ""},
	} {
		if got := (Activity{Description: c.description}).InstanceID(); got != c.want {
			t.Errorf("InstanceID of %q = %q, want %q", c.description, got, c.want)
		}
	}
}

func TestNotInServiceError(t *testing.T) {
	err := fmt.Errorf("terminating instance i-0abc of Auto Scaling group %q: %w", "agents",
		&NotInServiceError{InstanceID: "i-0abc", LifecycleState: StateTerminatingWait})
	var nis *NotInServiceError
	if !errors.Is(err, ErrNotInService) || !errors.As(err, &nis) || !nis.AlreadyTerminating() {
		t.Fatalf("%v: want ErrNotInService, already terminating", err)
	}
	const want = `terminating instance i-0abc of Auto Scaling group "agents": instance i-0abc is Terminating:Wait, not InService: it is not capacity and is not terminated (again)`
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if (&NotInServiceError{InstanceID: "i-0abc", LifecycleState: StateStandby}).AlreadyTerminating() {
		t.Errorf("a Standby instance reported as already terminating")
	}
}
