package cloud

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readGroups(t *testing.T, name string) []Group {
	t.Helper()
	groups, err := ReadAutoScalingGroups(bytes.NewReader(readFile(t, name)))
	if err != nil {
		t.Fatalf("ReadAutoScalingGroups(%s): %v", name, err)
	}
	return groups
}

func TestReadAutoScalingGroupsCLIOutput(t *testing.T) {
	groups := readGroups(t, "describe-auto-scaling-groups.json")
	if len(groups) != 2 {
		t.Fatalf("got %d groups, want 2", len(groups))
	}

	general := groups[0]
	if general.Name != "mesos-agents-general" || general.MinSize != 2 || general.MaxSize != 10 || general.DesiredCapacity != 4 {
		t.Errorf("general group: name %q min %d max %d desired %d, want mesos-agents-general 2 10 4",
			general.Name, general.MinSize, general.MaxSize, general.DesiredCapacity)
	}
	if want := []string{"us-east-1a", "us-east-1b", "us-east-1c"}; !reflect.DeepEqual(general.AvailabilityZones, want) {
		t.Errorf("AvailabilityZones = %v, want %v", general.AvailabilityZones, want)
	}
	if want := []string{"Terminate"}; !reflect.DeepEqual(general.SuspendedProcesses, want) {
		t.Errorf("SuspendedProcesses = %v, want %v", general.SuspendedProcesses, want)
	}
	if !general.IsSuspended("Terminate") || general.IsSuspended("Launch") {
		t.Errorf("IsSuspended: Terminate %v Launch %v, want true false", general.IsSuspended("Terminate"), general.IsSuspended("Launch"))
	}
	if general.InstanceTypes != nil {
		t.Errorf("InstanceTypes = %v, want none (no mixed instances policy)", general.InstanceTypes)
	}
	if general.Status != "" {
		t.Errorf("Status = %q, want empty", general.Status)
	}
	// Five instances: 0001-0003 InService (0001 protected), 0004 Pending, 0005 Terminating:Wait;
	// no WeightedCapacity in the output, so each weighs 1.
	wantInstances := []Instance{
		{ID: "i-0a1f3c5e7b9d10001", AvailabilityZone: "us-east-1a", LifecycleState: "InService", HealthStatus: "Healthy", ProtectedFromScaleIn: true, InstanceType: "m5.2xlarge", WeightedCapacity: 1},
		{ID: "i-0a1f3c5e7b9d10002", AvailabilityZone: "us-east-1b", LifecycleState: "InService", HealthStatus: "Healthy", InstanceType: "m5.2xlarge", WeightedCapacity: 1},
		{ID: "i-0a1f3c5e7b9d10003", AvailabilityZone: "us-east-1c", LifecycleState: "InService", HealthStatus: "Healthy", InstanceType: "m5.2xlarge", WeightedCapacity: 1},
		{ID: "i-0a1f3c5e7b9d10004", AvailabilityZone: "us-east-1a", LifecycleState: "Pending", HealthStatus: "Healthy", InstanceType: "m5.2xlarge", WeightedCapacity: 1},
		{ID: "i-0a1f3c5e7b9d10005", AvailabilityZone: "us-east-1b", LifecycleState: "Terminating:Wait", HealthStatus: "Healthy", InstanceType: "m5.2xlarge", WeightedCapacity: 1},
	}
	if !reflect.DeepEqual(general.Instances, wantInstances) {
		t.Errorf("Instances =\n%+v\nwant\n%+v", general.Instances, wantInstances)
	}
	var inService, upcoming, other int
	for _, in := range general.Instances {
		switch {
		case in.IsInService():
			inService++
		case in.IsUpcoming():
			upcoming++
		default:
			other++
		}
	}
	if inService != 3 || upcoming != 1 || other != 1 {
		t.Errorf("in service %d, upcoming %d, other %d; want 3, 1, 1", inService, upcoming, other)
	}

	batch := groups[1]
	if batch.Name != "mesos-agents-batch" || batch.MinSize != 0 || batch.MaxSize != 40 || batch.DesiredCapacity != 5 {
		t.Errorf("batch group: name %q min %d max %d desired %d, want mesos-agents-batch 0 40 5",
			batch.Name, batch.MinSize, batch.MaxSize, batch.DesiredCapacity)
	}
	wantTypes := []InstanceTypeWeight{{"c5.xlarge", 1}, {"c5.2xlarge", 2}}
	if !reflect.DeepEqual(batch.InstanceTypes, wantTypes) {
		t.Errorf("InstanceTypes = %+v, want %+v", batch.InstanceTypes, wantTypes)
	}
	if len(batch.SuspendedProcesses) != 0 {
		t.Errorf("SuspendedProcesses = %v, want none", batch.SuspendedProcesses)
	}
	// Weights "1", "2", "2": the 5 units of DesiredCapacity are 1 + 2 (in service) + 2 (pending).
	var units int32
	gotWeights := map[string]int32{}
	for _, in := range batch.Instances {
		gotWeights[in.ID] = in.WeightedCapacity
		units += in.WeightedCapacity
	}
	wantWeights := map[string]int32{"i-0b2e4d6f8a0c20001": 1, "i-0b2e4d6f8a0c20002": 2, "i-0b2e4d6f8a0c20003": 2}
	if !reflect.DeepEqual(gotWeights, wantWeights) {
		t.Errorf("weights = %v, want %v", gotWeights, wantWeights)
	}
	if units != batch.DesiredCapacity {
		t.Errorf("sum of weights = %d, want DesiredCapacity %d", units, batch.DesiredCapacity)
	}
}

func TestReadAutoScalingGroupsSingleObject(t *testing.T) {
	groups := readGroups(t, "describe-auto-scaling-groups-single.json")
	if len(groups) != 1 {
		t.Fatalf("got %d groups, want 1", len(groups))
	}
	g := groups[0]
	want := Group{
		Name: "mesos-agents-gpu", MinSize: 0, MaxSize: 4, DesiredCapacity: 1,
		Instances: []Instance{{
			ID: "i-0d4a6b8c0d2e40001", AvailabilityZone: "eu-west-1a", LifecycleState: "Standby",
			HealthStatus: "Healthy", WeightedCapacity: 1,
		}},
		SuspendedProcesses: []string{"AZRebalance", "Launch"},
		AvailabilityZones:  []string{"eu-west-1a"},
		Status:             "Delete in progress",
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("group =\n%+v\nwant\n%+v", g, want)
	}
	if g.Instances[0].IsInService() || g.Instances[0].IsUpcoming() {
		t.Error("a Standby instance is neither in service nor upcoming")
	}
}

func TestReadAutoScalingGroupsArray(t *testing.T) {
	groups := readGroups(t, "describe-auto-scaling-groups-array.json")
	if len(groups) != 2 {
		t.Fatalf("got %d groups, want 2", len(groups))
	}
	if groups[0].Name != "mesos-agents-a" || groups[0].MinSize != 1 || groups[0].MaxSize != 3 || groups[0].DesiredCapacity != 1 {
		t.Errorf("group 0 = %+v", groups[0])
	}
	if groups[1].Name != "mesos-agents-b" || groups[1].MaxSize != 0 || len(groups[1].Instances) != 0 {
		t.Errorf("group 1 = %+v", groups[1])
	}
}

func TestReadAutoScalingGroupsErrors(t *testing.T) {
	full := readFile(t, "describe-auto-scaling-groups.json")
	group := func(body string) string {
		return `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":1,"MaxSize":3,"DesiredCapacity":2` + body + `}]}`
	}
	tests := []struct {
		name   string
		in     string
		want   string // substring of the error
		is     error  // when set, errors.Is must hold
		wantIs bool
	}{
		{name: "empty", in: "", want: "empty input"},
		{name: "blank", in: " \n\t", want: "empty input"},
		{name: "truncated", in: string(full[:len(full)/2]), want: "invalid JSON"},
		{name: "trailing garbage", in: `{"AutoScalingGroups":[]} x`, want: "invalid JSON"},
		{name: "string", in: `"AutoScalingGroups"`, want: "top-level JSON value is a string"},
		{name: "number", in: `42`, want: "top-level JSON value is a number"},
		{name: "null", in: `null`, want: "top-level JSON value is null"},
		{name: "describe-instances", in: string(readFile(t, "describe-instances.json")),
			want: `not aws autoscaling describe-auto-scaling-groups output: the object has no "AutoScalingGroups" key (its keys are "Reservations", "NextToken"; it looks like aws ec2 describe-instances output)`},
		{name: "mesos state", in: `{"version":"1.2.0","slaves":[],"frameworks":[]}`, want: "looks like a Mesos GET /master/state response"},
		{name: "empty object", in: `{}`, want: "it is an empty object"},
		{name: "groups not array", in: `{"AutoScalingGroups":{"a":1}}`, want: `"AutoScalingGroups" is an object, want an array`},
		{name: "no group", in: `{"AutoScalingGroups":[]}`, want: "lists no group", is: ErrGroupNotFound},
		{name: "null groups", in: `{"AutoScalingGroups":null}`, want: "lists no group", is: ErrGroupNotFound},
		{name: "group not object", in: `{"AutoScalingGroups":[1]}`, want: "group 0: is a number, want an object"},
		{name: "no name", in: `{"AutoScalingGroups":[{"MinSize":1}]}`, want: "no AutoScalingGroupName"},
		{name: "no MinSize", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MaxSize":1,"DesiredCapacity":1}]}`, want: `group "g" has no MinSize`},
		{name: "no DesiredCapacity", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":1}]}`, want: `group "g" has no DesiredCapacity`},
		{name: "negative", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":-1,"MaxSize":1,"DesiredCapacity":1}]}`, want: "negative MinSize"},
		{name: "min above max", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":4,"MaxSize":3,"DesiredCapacity":3}]}`, want: "inconsistent bounds"},
		{name: "desired above max", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":3,"DesiredCapacity":9}]}`, want: "inconsistent bounds"},
		{name: "size as string", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":"1","MaxSize":3,"DesiredCapacity":2}]}`, want: "MinSize"},
		{name: "size overflows int32", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":4294967296,"DesiredCapacity":2}]}`, want: "MaxSize"},
		{name: "duplicate group", in: `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":1,"DesiredCapacity":0},{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":1,"DesiredCapacity":0}]}`, want: `group "g" is listed twice`},
		{name: "instance without id", in: group(`,"Instances":[{"LifecycleState":"InService"}]`), want: "instance 0 has no InstanceId"},
		{name: "instance without state", in: group(`,"Instances":[{"InstanceId":"i-1"}]`), want: "instance i-1 has no LifecycleState"},
		{name: "duplicate instance", in: group(`,"Instances":[{"InstanceId":"i-1","LifecycleState":"InService"},{"InstanceId":"i-1","LifecycleState":"Pending"}]`), want: "instance i-1 is listed twice"},
		{name: "weight not a number", in: group(`,"Instances":[{"InstanceId":"i-1","LifecycleState":"InService","WeightedCapacity":"two"}]`), want: `WeightedCapacity "two" is not a whole number`},
		{name: "weight zero", in: group(`,"Instances":[{"InstanceId":"i-1","LifecycleState":"InService","WeightedCapacity":"0"}]`), want: `WeightedCapacity "0"`},
		{name: "weight fraction", in: group(`,"Instances":[{"InstanceId":"i-1","LifecycleState":"InService","WeightedCapacity":"1.5"}]`), want: `WeightedCapacity "1.5"`},
		{name: "weight boolean", in: group(`,"Instances":[{"InstanceId":"i-1","LifecycleState":"InService","WeightedCapacity":true}]`), want: "WeightedCapacity is a boolean"},
		{name: "override weight", in: group(`,"MixedInstancesPolicy":{"LaunchTemplate":{"Overrides":[{"InstanceType":"c5.large","WeightedCapacity":"-2"}]}}`), want: "launch template override 0"},
		{name: "suspended without name", in: group(`,"SuspendedProcesses":[{"SuspensionReason":"x"}]`), want: "suspended process has no ProcessName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groups, err := ReadAutoScalingGroups(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("got %d groups and no error, want an error containing %q", len(groups), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestReadAutoScalingGroupsWeightAsNumber(t *testing.T) {
	// The API sends WeightedCapacity as a string; a number (hand-written files) means the same.
	in := `{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":9,"DesiredCapacity":3,
		"Instances":[{"InstanceId":"i-1","LifecycleState":"InService","WeightedCapacity":3}],
		"MixedInstancesPolicy":{"LaunchTemplate":{"Overrides":[{"InstanceType":"c5.4xlarge","WeightedCapacity":3},{"InstanceType":"c5.large"},{"InstanceRequirements":{"VCpuCount":{"Min":2}}}]}}}]}`
	groups, err := ReadAutoScalingGroups(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if w := groups[0].Instances[0].WeightedCapacity; w != 3 {
		t.Errorf("instance weight = %d, want 3", w)
	}
	// The override without a weight counts 1; the attribute-based one names no type.
	want := []InstanceTypeWeight{{"c5.4xlarge", 3}, {"c5.large", 1}}
	if !reflect.DeepEqual(groups[0].InstanceTypes, want) {
		t.Errorf("InstanceTypes = %+v, want %+v", groups[0].InstanceTypes, want)
	}
}

func TestFindGroup(t *testing.T) {
	groups := readGroups(t, "describe-auto-scaling-groups.json")

	g, err := FindGroup(groups, "mesos-agents-batch")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "mesos-agents-batch" || g.DesiredCapacity != 5 {
		t.Errorf("found %q desired %d, want mesos-agents-batch 5", g.Name, g.DesiredCapacity)
	}

	_, err = FindGroup(groups, "mesos-agents-gpu")
	if !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("error %v does not wrap ErrGroupNotFound", err)
	}
	if want := `"mesos-agents-batch", "mesos-agents-general"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not list the groups present (%s)", err, want)
	}

	if _, err := FindGroup(nil, "mesos-agents-gpu"); !errors.Is(err, ErrGroupNotFound) || !strings.Contains(err.Error(), "lists no group") {
		t.Errorf("FindGroup(nil) error = %v, want a not-found error saying no group is listed", err)
	}
	if _, err := FindGroup(groups, ""); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("FindGroup(empty name) error = %v, want ErrGroupNotFound", err)
	}
}

func TestFindGroupCapsTheList(t *testing.T) {
	var groups []Group
	for _, c := range "abcdefghijklmnopqrstuvwxy" { // 25 groups
		groups = append(groups, Group{Name: string(c)})
	}
	_, err := FindGroup(groups, "z")
	if err == nil || !strings.Contains(err.Error(), "and 5 more") {
		t.Errorf("error %v, want the list capped at 20 names and 5 more", err)
	}
}

func TestReadInstances(t *testing.T) {
	m, err := ReadInstances(bytes.NewReader(readFile(t, "describe-instances.json")))
	if err != nil {
		t.Fatal(err)
	}
	// 3 reservations holding 2 + 2 + 5 instances: the 5 of mesos-agents-general, the 3 of
	// mesos-agents-batch and one terminated instance of neither.
	if len(m) != 9 {
		t.Fatalf("got %d instances, want 9", len(m))
	}
	want := map[string]EC2Instance{
		"i-0a1f3c5e7b9d10001": {ID: "i-0a1f3c5e7b9d10001", InstanceType: "m5.2xlarge", PrivateIP: "10.0.1.21",
			PrivateDNSName: "ip-10-0-1-21.ec2.internal", AvailabilityZone: "us-east-1a", State: "running",
			LaunchTime: time.Date(2024, 4, 29, 11, 2, 17, 0, time.UTC)},
		"i-0a1f3c5e7b9d10004": {ID: "i-0a1f3c5e7b9d10004", InstanceType: "m5.2xlarge", PrivateIP: "10.0.1.77",
			PrivateDNSName: "ip-10-0-1-77.ec2.internal", AvailabilityZone: "us-east-1a", State: "pending",
			LaunchTime: time.Date(2024, 5, 2, 8, 0, 1, 0, time.UTC)},
		// CLI v1 time format ("...000Z").
		"i-0b2e4d6f8a0c20003": {ID: "i-0b2e4d6f8a0c20003", InstanceType: "c5.2xlarge", PrivateIP: "10.0.1.142",
			PrivateDNSName: "ip-10-0-1-142.ec2.internal", AvailabilityZone: "us-east-1a", State: "pending",
			LaunchTime: time.Date(2024, 5, 2, 8, 0, 9, 0, time.UTC)},
		// Terminated: no private address any more.
		"i-0c3f5a7b9c1d30001": {ID: "i-0c3f5a7b9c1d30001", InstanceType: "t3.micro", AvailabilityZone: "us-east-1a",
			State: "terminated", LaunchTime: time.Date(2022, 11, 15, 10, 48, 59, 0, time.UTC)},
	}
	for id, w := range want {
		if got := m[id]; !reflect.DeepEqual(got, w) {
			t.Errorf("instance %s =\n%+v\nwant\n%+v", id, got, w)
		}
	}
}

func TestReadInstancesErrors(t *testing.T) {
	full := readFile(t, "describe-instances.json")
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty input"},
		{"truncated", string(full[:len(full)-40]), "invalid JSON"},
		{"array", `[{"InstanceId":"i-1"}]`, "top-level JSON value is an array"},
		{"asg output", string(readFile(t, "describe-auto-scaling-groups.json")),
			`not aws ec2 describe-instances output: the object has no "Reservations" key (its keys are "AutoScalingGroups"; it looks like aws autoscaling describe-auto-scaling-groups output)`},
		{"reservations not array", `{"Reservations":"none"}`, `"Reservations" is a string, want an array`},
		{"reservation not object", `{"Reservations":[[]]}`, "reservation 0: is an array, want an object"},
		{"no id", `{"Reservations":[{"Instances":[{"InstanceType":"m5.large"}]}]}`, "reservation 0, instance 0: no InstanceId"},
		{"bad launch time", `{"Reservations":[{"Instances":[{"InstanceId":"i-1","LaunchTime":"yesterday"}]}]}`, `LaunchTime "yesterday" is not an RFC 3339 time`},
		{"duplicate", `{"Reservations":[{"Instances":[{"InstanceId":"i-1"}]},{"Instances":[{"InstanceId":"i-1"}]}]}`, "instance i-1 is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadInstances(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("got %d instances and no error, want an error containing %q", len(m), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadInstancesNoReservation(t *testing.T) {
	m, err := ReadInstances(strings.NewReader(`{"Reservations": []}`))
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || len(m) != 0 {
		t.Errorf("got %v, want an empty, non-nil map", m)
	}
}

func TestFillFromEC2(t *testing.T) {
	groups := readGroups(t, "describe-auto-scaling-groups.json")
	m, err := ReadInstances(bytes.NewReader(readFile(t, "describe-instances.json")))
	if err != nil {
		t.Fatal(err)
	}
	general := groups[0]
	before := general.Instances
	shared := general // another Group value sharing the instance slice

	if missing := general.FillFromEC2(m); len(missing) != 0 {
		t.Errorf("missing = %v, want none: the file describes every instance of the group", missing)
	}
	wantIP := map[string]string{
		"i-0a1f3c5e7b9d10001": "10.0.1.21",
		"i-0a1f3c5e7b9d10002": "10.0.2.37",
		"i-0a1f3c5e7b9d10003": "10.0.3.54",
		"i-0a1f3c5e7b9d10004": "10.0.1.77",
		"i-0a1f3c5e7b9d10005": "10.0.2.90",
	}
	for _, in := range general.Instances {
		if in.PrivateIP != wantIP[in.ID] {
			t.Errorf("%s PrivateIP = %q, want %q", in.ID, in.PrivateIP, wantIP[in.ID])
		}
	}
	pending := general.Instances[3]
	if pending.PrivateDNSName != "ip-10-0-1-77.ec2.internal" || pending.EC2State != "pending" ||
		!pending.LaunchTime.Equal(time.Date(2024, 5, 2, 8, 0, 1, 0, time.UTC)) || pending.LifecycleState != "Pending" {
		t.Errorf("pending instance = %+v", pending)
	}
	if before[0].PrivateIP != "" || shared.Instances[0].PrivateIP != "" {
		t.Error("FillFromEC2 changed the instance slice shared with another Group value")
	}

	// Only part of the group described; the Auto Scaling type and zone win when both are set.
	g := Group{Name: "g", Instances: []Instance{
		{ID: "i-0b2e4d6f8a0c20002", LifecycleState: "InService"},
		{ID: "i-gone", LifecycleState: "InService", InstanceType: "r5.large", AvailabilityZone: "us-east-1c"},
		{ID: "i-0a1f3c5e7b9d10001", LifecycleState: "InService", InstanceType: "m5.4xlarge"},
	}}
	missing := g.FillFromEC2(m)
	if !reflect.DeepEqual(missing, []string{"i-gone"}) {
		t.Errorf("missing = %v, want [i-gone]", missing)
	}
	if got := g.Instances[0]; got.InstanceType != "c5.2xlarge" || got.AvailabilityZone != "us-east-1b" || got.PrivateIP != "10.0.2.141" {
		t.Errorf("filled instance = %+v, want type c5.2xlarge, zone us-east-1b, IP 10.0.2.141", got)
	}
	if got := g.Instances[1]; got.PrivateIP != "" || got.InstanceType != "r5.large" {
		t.Errorf("undescribed instance = %+v, want it unchanged", got)
	}
	if got := g.Instances[2]; got.InstanceType != "m5.4xlarge" || got.PrivateIP != "10.0.1.21" {
		t.Errorf("instance with a type = %+v, want type m5.4xlarge kept and IP 10.0.1.21", got)
	}
}

func FuzzReadAutoScalingGroups(f *testing.F) {
	for _, name := range []string{"describe-auto-scaling-groups.json", "describe-auto-scaling-groups-single.json",
		"describe-auto-scaling-groups-array.json", "describe-instances.json"} {
		f.Add(readFile(f, name))
	}
	f.Add([]byte(`{"AutoScalingGroups":[{"AutoScalingGroupName":"g","MinSize":0,"MaxSize":2,"DesiredCapacity":1,"Instances":[{"InstanceId":"i","LifecycleState":"Pending","WeightedCapacity":"2"}]}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"AutoScalingGroups":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, err := ReadAutoScalingGroups(bytes.NewReader(data))
		if err != nil {
			if groups != nil {
				t.Errorf("groups %v returned with error %v", groups, err)
			}
			return
		}
		if len(groups) == 0 {
			t.Fatal("no group and no error")
		}
		names := map[string]bool{}
		for _, g := range groups {
			if g.Name == "" || names[g.Name] {
				t.Errorf("empty or duplicate group name %q", g.Name)
			}
			names[g.Name] = true
			if g.MinSize < 0 || g.MinSize > g.DesiredCapacity || g.DesiredCapacity > g.MaxSize {
				t.Errorf("group %q bounds %d <= %d <= %d do not hold", g.Name, g.MinSize, g.DesiredCapacity, g.MaxSize)
			}
			ids := map[string]bool{}
			for _, in := range g.Instances {
				if in.ID == "" || in.LifecycleState == "" || ids[in.ID] || in.WeightedCapacity < 1 {
					t.Errorf("group %q: bad instance %+v", g.Name, in)
				}
				ids[in.ID] = true
			}
			for _, it := range g.InstanceTypes {
				if it.InstanceType == "" || it.WeightedCapacity < 1 {
					t.Errorf("group %q: bad instance type %+v", g.Name, it)
				}
			}
			if _, err := FindGroup(groups, g.Name); err != nil {
				t.Errorf("FindGroup(%q): %v", g.Name, err)
			}
		}
	})
}

func FuzzReadInstances(f *testing.F) {
	f.Add(readFile(f, "describe-instances.json"))
	f.Add(readFile(f, "describe-auto-scaling-groups.json"))
	f.Add([]byte(`{"Reservations":[{"Instances":[{"InstanceId":"i-1","LaunchTime":"2024-05-02T08:00:01+00:00","State":{"Name":"running"}}]}]}`))
	f.Add([]byte(`{"Reservations":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadInstances(bytes.NewReader(data))
		if err != nil {
			if m != nil {
				t.Errorf("map %v returned with error %v", m, err)
			}
			return
		}
		for id, in := range m {
			if id == "" || in.ID != id {
				t.Errorf("instance keyed %q has id %q", id, in.ID)
			}
		}
		g := Group{Instances: []Instance{{ID: "i-1", LifecycleState: StateInService}}}
		missing := g.FillFromEC2(m)
		if _, ok := m["i-1"]; ok == (len(missing) == 1) {
			t.Errorf("i-1 described %v but missing %v", ok, missing)
		}
	})
}
