package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The AWS CLI commands whose JSON output this file reads, as named in errors.
const (
	describeGroupsCmd    = "aws autoscaling describe-auto-scaling-groups"
	describeInstancesCmd = "aws ec2 describe-instances"
)

// ErrGroupNotFound is wrapped by the errors of FindGroup and ReadAutoScalingGroups when the
// wanted Auto Scaling group is not in the describe-auto-scaling-groups output.
var ErrGroupNotFound = errors.New("auto scaling group not found")

// EC2Instance is what Lambda Scale keeps of one EC2 instance.
// Source: EC2 DescribeInstances (`aws ec2 describe-instances`), "Reservations[].Instances[]".
type EC2Instance struct {
	// ID is the EC2 instance id ("i-0abc...").
	ID string `json:"id"`
	// InstanceType is the EC2 instance type ("m5.2xlarge").
	InstanceType string `json:"instanceType,omitempty"`
	// PrivateIP is the primary private IPv4 address ("PrivateIpAddress"); empty when the
	// instance has none (terminated).
	PrivateIP string `json:"privateIP,omitempty"`
	// PrivateDNSName is the private DNS name ("PrivateDnsName"); empty when none.
	PrivateDNSName string `json:"privateDNSName,omitempty"`
	// AvailabilityZone is the instance's zone ("Placement.AvailabilityZone").
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// State is the EC2 state name ("State.Name": "pending", "running", "shutting-down",
	// "terminated", "stopping", "stopped").
	State string `json:"state,omitempty"`
	// LaunchTime is when EC2 launched the instance (zero when the output omits it).
	LaunchTime time.Time `json:"launchTime,omitzero"`
}

// ReadAutoScalingGroups reads the JSON that `aws autoscaling describe-auto-scaling-groups`
// prints (AutoScaling DescribeAutoScalingGroups: {"AutoScalingGroups": [...], "NextToken": ...})
// and returns the groups in the order listed. It also accepts a single group object and a JSON
// array of groups, as printed with --query 'AutoScalingGroups[0]' or --query AutoScalingGroups.
//
// Every group must carry its name, MinSize, MaxSize and DesiredCapacity; instance weights
// ("WeightedCapacity", a string such as "2") default to 1 when absent. An output that lists no
// group is an error wrapping ErrGroupNotFound, never an empty group. Each group in a paginated
// output (NextToken set) is complete: AWS pages by group, not by instance.
func ReadAutoScalingGroups(r io.Reader) ([]Group, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s output: %w", describeGroupsCmd, err)
	}
	top, err := topLevel(data, describeGroupsCmd)
	if err != nil {
		return nil, err
	}

	var raws []json.RawMessage
	switch top.kind {
	case '{':
		if list, ok := top.keys["AutoScalingGroups"]; ok {
			if raws, err = rawArray(list); err != nil {
				return nil, fmt.Errorf("not %s output: \"AutoScalingGroups\" %w", describeGroupsCmd, err)
			}
			break
		}
		if _, ok := top.keys["AutoScalingGroupName"]; ok {
			raws = []json.RawMessage{data}
			break
		}
		return nil, fmt.Errorf("not %s output: the object has no \"AutoScalingGroups\" key (%s)",
			describeGroupsCmd, describeKeys(top.order))
	case '[':
		if raws, err = rawArray(data); err != nil {
			return nil, fmt.Errorf("not %s output: %w", describeGroupsCmd, err)
		}
	default:
		return nil, fmt.Errorf("not %s output: the top-level JSON value is %s, want an object with \"AutoScalingGroups\"",
			describeGroupsCmd, jsonKind(top.kind))
	}

	if len(raws) == 0 {
		return nil, fmt.Errorf("%s output lists no group (wrong name, region or account?): %w",
			describeGroupsCmd, ErrGroupNotFound)
	}
	groups := make([]Group, 0, len(raws))
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		g, err := decodeGroup(raw)
		if err != nil {
			return nil, fmt.Errorf("reading %s output: group %d: %w", describeGroupsCmd, i, err)
		}
		if seen[g.Name] {
			return nil, fmt.Errorf("reading %s output: group %q is listed twice", describeGroupsCmd, g.Name)
		}
		seen[g.Name] = true
		groups = append(groups, g)
	}
	return groups, nil
}

// FindGroup returns the group called name from groups, as read by ReadAutoScalingGroups. When
// it is missing the error wraps ErrGroupNotFound and lists the names that are present.
func FindGroup(groups []Group, name string) (Group, error) {
	if name == "" {
		return Group{}, fmt.Errorf("finding Auto Scaling group: empty name: %w", ErrGroupNotFound)
	}
	for _, g := range groups {
		if g.Name == name {
			return g, nil
		}
	}
	if len(groups) == 0 {
		return Group{}, fmt.Errorf("finding Auto Scaling group %q: the %s output lists no group: %w",
			name, describeGroupsCmd, ErrGroupNotFound)
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = strconv.Quote(g.Name)
	}
	sort.Strings(names)
	return Group{}, fmt.Errorf("finding Auto Scaling group %q: not in the %s output, which lists %s: %w",
		name, describeGroupsCmd, joinCapped(names, 20), ErrGroupNotFound)
}

// ReadInstances reads the JSON that `aws ec2 describe-instances` prints (EC2 DescribeInstances:
// {"Reservations": [{"Instances": [...]}]}) and returns the instances by instance id. An output
// with no reservation gives an empty map; an instance listed twice is an error.
func ReadInstances(r io.Reader) (map[string]EC2Instance, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s output: %w", describeInstancesCmd, err)
	}
	top, err := topLevel(data, describeInstancesCmd)
	if err != nil {
		return nil, err
	}
	if top.kind != '{' {
		return nil, fmt.Errorf("not %s output: the top-level JSON value is %s, want an object with \"Reservations\"",
			describeInstancesCmd, jsonKind(top.kind))
	}
	list, ok := top.keys["Reservations"]
	if !ok {
		return nil, fmt.Errorf("not %s output: the object has no \"Reservations\" key (%s)",
			describeInstancesCmd, describeKeys(top.order))
	}
	reservations, err := rawArray(list)
	if err != nil {
		return nil, fmt.Errorf("not %s output: \"Reservations\" %w", describeInstancesCmd, err)
	}

	out := make(map[string]EC2Instance)
	for i, raw := range reservations {
		var res struct {
			Instances []cliEC2Instance `json:"Instances"`
		}
		if err := strictObject(raw, &res); err != nil {
			return nil, fmt.Errorf("reading %s output: reservation %d: %w", describeInstancesCmd, i, err)
		}
		for j, ci := range res.Instances {
			inst, err := ci.convert()
			if err != nil {
				return nil, fmt.Errorf("reading %s output: reservation %d, instance %d: %w", describeInstancesCmd, i, j, err)
			}
			if _, dup := out[inst.ID]; dup {
				return nil, fmt.Errorf("reading %s output: instance %s is listed twice", describeInstancesCmd, inst.ID)
			}
			out[inst.ID] = inst
		}
	}
	return out, nil
}

// FillFromEC2 copies what EC2 DescribeInstances knows of the group's instances from m (as
// read by ReadInstances) onto them: PrivateIP, PrivateDNSName, LaunchTime and EC2State, plus
// InstanceType and AvailabilityZone where the Auto Scaling output left them empty. It replaces
// g.Instances with an updated copy, so other Group values sharing the old slice are not
// changed. It returns the ids of the group's instances that m does not describe, in the
// group's order; those keep their addresses unknown. Unlike the AutoScaling AttachInstances
// action, which adds instances to a group, it makes no AWS call.
func (g *Group) FillFromEC2(m map[string]EC2Instance) (missing []string) {
	if len(g.Instances) == 0 {
		return nil
	}
	instances := make([]Instance, len(g.Instances))
	copy(instances, g.Instances)
	for i := range instances {
		in := &instances[i]
		e, ok := m[in.ID]
		if !ok {
			missing = append(missing, in.ID)
			continue
		}
		in.PrivateIP = e.PrivateIP
		in.PrivateDNSName = e.PrivateDNSName
		in.LaunchTime = e.LaunchTime
		in.EC2State = e.State
		if in.InstanceType == "" {
			in.InstanceType = e.InstanceType
		}
		if in.AvailabilityZone == "" {
			in.AvailabilityZone = e.AvailabilityZone
		}
	}
	g.Instances = instances
	return missing
}

// cliGroup is the part of an AutoScalingGroup (DescribeAutoScalingGroups) that is read.
type cliGroup struct {
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	MinSize              *int32 `json:"MinSize"`
	MaxSize              *int32 `json:"MaxSize"`
	DesiredCapacity      *int32 `json:"DesiredCapacity"`
	Instances            []struct {
		InstanceID           string  `json:"InstanceId"`
		InstanceType         string  `json:"InstanceType"`
		AvailabilityZone     string  `json:"AvailabilityZone"`
		LifecycleState       string  `json:"LifecycleState"`
		HealthStatus         string  `json:"HealthStatus"`
		ProtectedFromScaleIn bool    `json:"ProtectedFromScaleIn"`
		WeightedCapacity     *weight `json:"WeightedCapacity"`
	} `json:"Instances"`
	SuspendedProcesses []struct {
		ProcessName      string `json:"ProcessName"`
		SuspensionReason string `json:"SuspensionReason"`
	} `json:"SuspendedProcesses"`
	AvailabilityZones    []string `json:"AvailabilityZones"`
	MixedInstancesPolicy *struct {
		LaunchTemplate *struct {
			Overrides []struct {
				InstanceType     string  `json:"InstanceType"`
				WeightedCapacity *weight `json:"WeightedCapacity"`
			} `json:"Overrides"`
		} `json:"LaunchTemplate"`
	} `json:"MixedInstancesPolicy"`
	Status string `json:"Status"`
}

// decodeGroup decodes and checks one group object.
func decodeGroup(raw json.RawMessage) (Group, error) {
	var cg cliGroup
	if err := strictObject(raw, &cg); err != nil {
		return Group{}, err
	}
	if cg.AutoScalingGroupName == "" {
		return Group{}, errors.New("no AutoScalingGroupName")
	}
	g := Group{
		Name:              cg.AutoScalingGroupName,
		AvailabilityZones: cg.AvailabilityZones,
		Status:            cg.Status,
	}
	for _, f := range []struct {
		name string
		v    *int32
		dst  *int32
	}{
		{"MinSize", cg.MinSize, &g.MinSize},
		{"MaxSize", cg.MaxSize, &g.MaxSize},
		{"DesiredCapacity", cg.DesiredCapacity, &g.DesiredCapacity},
	} {
		if f.v == nil {
			return Group{}, fmt.Errorf("group %q has no %s", g.Name, f.name)
		}
		if *f.v < 0 {
			return Group{}, fmt.Errorf("group %q has a negative %s (%d)", g.Name, f.name, *f.v)
		}
		*f.dst = *f.v
	}
	if g.MinSize > g.MaxSize || g.DesiredCapacity < g.MinSize || g.DesiredCapacity > g.MaxSize {
		return Group{}, fmt.Errorf("group %q has inconsistent bounds: MinSize %d, DesiredCapacity %d, MaxSize %d",
			g.Name, g.MinSize, g.DesiredCapacity, g.MaxSize)
	}

	ids := make(map[string]bool, len(cg.Instances))
	g.Instances = make([]Instance, 0, len(cg.Instances))
	for i, ci := range cg.Instances {
		if ci.InstanceID == "" {
			return Group{}, fmt.Errorf("group %q: instance %d has no InstanceId", g.Name, i)
		}
		if ci.LifecycleState == "" {
			return Group{}, fmt.Errorf("group %q: instance %s has no LifecycleState", g.Name, ci.InstanceID)
		}
		if ids[ci.InstanceID] {
			return Group{}, fmt.Errorf("group %q: instance %s is listed twice", g.Name, ci.InstanceID)
		}
		ids[ci.InstanceID] = true
		w, err := ci.WeightedCapacity.value()
		if err != nil {
			return Group{}, fmt.Errorf("group %q: instance %s: %w", g.Name, ci.InstanceID, err)
		}
		g.Instances = append(g.Instances, Instance{
			ID:                   ci.InstanceID,
			AvailabilityZone:     ci.AvailabilityZone,
			LifecycleState:       ci.LifecycleState,
			HealthStatus:         ci.HealthStatus,
			ProtectedFromScaleIn: ci.ProtectedFromScaleIn,
			InstanceType:         ci.InstanceType,
			WeightedCapacity:     w,
		})
	}

	for _, p := range cg.SuspendedProcesses {
		if p.ProcessName == "" {
			return Group{}, fmt.Errorf("group %q: a suspended process has no ProcessName", g.Name)
		}
		g.SuspendedProcesses = append(g.SuspendedProcesses, p.ProcessName)
	}

	if mip := cg.MixedInstancesPolicy; mip != nil && mip.LaunchTemplate != nil {
		for i, o := range mip.LaunchTemplate.Overrides {
			w, err := o.WeightedCapacity.value()
			if err != nil {
				return Group{}, fmt.Errorf("group %q: launch template override %d: %w", g.Name, i, err)
			}
			if o.InstanceType == "" {
				continue // attribute-based selection (InstanceRequirements): no type to record
			}
			g.InstanceTypes = append(g.InstanceTypes, InstanceTypeWeight{InstanceType: o.InstanceType, WeightedCapacity: w})
		}
	}
	return g, nil
}

// weight is a WeightedCapacity: a string holding a whole number of capacity units in the AWS
// API ("2"); a JSON number is accepted too.
type weight struct{ s string }

// UnmarshalJSON keeps the text of a string or number; the value is checked by value.
func (w *weight) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &w.s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		w.s = string(b)
		return nil
	}
	return fmt.Errorf("WeightedCapacity is %s, want a string such as \"2\"", jsonKind(firstByte(b)))
}

// value returns the weight in capacity units: 1 when absent, an error unless a whole number
// of at least 1.
func (w *weight) value() (int32, error) {
	if w == nil {
		return 1, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(w.s), 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("WeightedCapacity %q is not a whole number of capacity units of at least 1", w.s)
	}
	return int32(n), nil
}

// cliEC2Instance is the part of an EC2 Instance (DescribeInstances) that is read.
type cliEC2Instance struct {
	InstanceID       string `json:"InstanceId"`
	InstanceType     string `json:"InstanceType"`
	PrivateIPAddress string `json:"PrivateIpAddress"`
	PrivateDNSName   string `json:"PrivateDnsName"`
	Placement        struct {
		AvailabilityZone string `json:"AvailabilityZone"`
	} `json:"Placement"`
	State struct {
		Name string `json:"Name"`
	} `json:"State"`
	LaunchTime string `json:"LaunchTime"`
}

// convert checks one EC2 instance and turns it into an EC2Instance.
func (ci cliEC2Instance) convert() (EC2Instance, error) {
	if ci.InstanceID == "" {
		return EC2Instance{}, errors.New("no InstanceId")
	}
	e := EC2Instance{
		ID:               ci.InstanceID,
		InstanceType:     ci.InstanceType,
		PrivateIP:        ci.PrivateIPAddress,
		PrivateDNSName:   ci.PrivateDNSName,
		AvailabilityZone: ci.Placement.AvailabilityZone,
		State:            ci.State.Name,
	}
	if ci.LaunchTime != "" {
		// CLI v1 prints "2018-05-10T08:05:20.000Z", v2 "2018-05-10T08:05:20+00:00"; both are
		// RFC 3339.
		t, err := time.Parse(time.RFC3339, ci.LaunchTime)
		if err != nil {
			return EC2Instance{}, fmt.Errorf("instance %s: LaunchTime %q is not an RFC 3339 time", ci.InstanceID, ci.LaunchTime)
		}
		e.LaunchTime = t.UTC()
	}
	return e, nil
}

// topValue is a JSON document's top-level value: its kind ('{', '[', '"', '0', 't', 'n') and,
// for an object, its keys.
type topValue struct {
	kind  byte
	keys  map[string]json.RawMessage
	order []string
}

// topLevel checks that data is one JSON value and, for an object, splits it into its keys.
func topLevel(data []byte, cmd string) (topValue, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return topValue{}, fmt.Errorf("reading %s output: empty input", cmd)
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v) // for the position and cause
		if err == nil {
			err = errors.New("not valid JSON")
		}
		return topValue{}, fmt.Errorf("reading %s output: invalid JSON: %w", cmd, err)
	}
	t := topValue{kind: firstByte(trimmed)}
	if t.kind != '{' {
		return t, nil
	}
	if err := json.Unmarshal(trimmed, &t.keys); err != nil {
		return topValue{}, fmt.Errorf("reading %s output: %w", cmd, err)
	}
	t.order = objectKeys(trimmed)
	return t, nil
}

// objectKeys returns the top-level keys of a valid JSON object in document order.
func objectKeys(obj []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // '{'
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// rawArray splits a JSON array into its elements; null is an empty array. The error, for any
// other value, reads after the name of the thing decoded ("is a string, want an array").
func rawArray(data json.RawMessage) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if k := firstByte(trimmed); k != '[' && k != 'n' {
		return nil, fmt.Errorf("is %s, want an array", jsonKind(k))
	}
	var out []json.RawMessage
	if err := json.Unmarshal(trimmed, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// strictObject decodes a JSON object into v, refusing any other kind of value with a short
// message instead of encoding/json's Go type names.
func strictObject(raw json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if k := firstByte(trimmed); k != '{' {
		return fmt.Errorf("is %s, want an object", jsonKind(k))
	}
	return json.Unmarshal(trimmed, v)
}

// firstByte returns the first byte of b, 0 when empty.
func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// jsonKind names the kind of JSON value that starts with byte c.
func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "not a JSON value"
}

// outputHints maps a top-level key to the output it suggests, to name a wrong file.
var outputHints = []struct{ key, what string }{
	{"Reservations", describeInstancesCmd + " output"},
	{"AutoScalingGroups", describeGroupsCmd + " output"},
	{"AutoScalingInstances", "aws autoscaling describe-auto-scaling-instances output"},
	{"queue", "a Marathon GET /v2/queue response"},
	{"apps", "a Marathon GET /v2/apps response"},
	{"slaves", "a Mesos GET /master/state response"},
	{"frameworks", "a Mesos GET /master/state response"},
}

// describeKeys lists an object's top-level keys and, when one is known, what output it looks
// like.
func describeKeys(keys []string) string {
	if len(keys) == 0 {
		return "it is an empty object"
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
	}
	s := "its keys are " + joinCapped(quoted, 10)
	for _, h := range outputHints {
		for _, k := range keys {
			if k == h.key {
				return s + "; it looks like " + h.what
			}
		}
	}
	return s
}

// joinCapped joins at most limit items with ", " and says how many more there are.
func joinCapped(items []string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:limit], ", "), len(items)-limit)
}
