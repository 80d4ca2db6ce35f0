package aws

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lambdascale/lambdascale/internal/cloud"
)

// DescribeGroups describes the named Auto Scaling groups with one paginated
// DescribeAutoScalingGroups (one request per 100 groups, as AWS allows), then calls EC2
// DescribeInstances only for member instances it has not seen before (and for those EC2
// still reported "pending", whose facts may change), to fill their private addresses, launch
// time and EC2 state. Facts of instances that left the described groups are forgotten.
//
// Every name must be found. When some are not, the error is a *cloud.MissingGroupsError
// (wrapping cloud.ErrGroupNotFound) and the map holds the groups that were found, complete.
// Any other error means no usable observation: the map is nil. A successful description
// authorizes writes on the group for Options.DescribeMaxAge.
func (c *Client) DescribeGroups(ctx context.Context, names []string) (map[string]cloud.Group, error) {
	want := map[string]bool{}
	for _, n := range names {
		if n != "" {
			want[n] = true
		}
	}
	if len(want) == 0 {
		// An empty name list would describe every group of the account.
		return nil, errors.New("describing Auto Scaling groups: no group name given")
	}
	sorted := sortedKeys(want)

	groups := make(map[string]cloud.Group, len(sorted))
	requests := 0
	for start := 0; start < len(sorted); start += maxNamesPerDescribe {
		chunk := sorted[start:min(start+maxNamesPerDescribe, len(sorted))]
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c.asg, &autoscaling.DescribeAutoScalingGroupsInput{
			AutoScalingGroupNames: chunk,
			MaxRecords:            sdkaws.Int32(maxRecords),
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			requests++
			if err != nil {
				return nil, fmt.Errorf("describing Auto Scaling groups %s: %w", quoteList(chunk), apiError("DescribeAutoScalingGroups", err))
			}
			for i := range out.AutoScalingGroups {
				g, err := groupOf(&out.AutoScalingGroups[i])
				if err != nil {
					return nil, fmt.Errorf("describing Auto Scaling groups: %w", err)
				}
				if want[g.Name] {
					groups[g.Name] = g
				}
			}
		}
	}

	ec2Requests, err := c.fillAddresses(ctx, groups)
	if err != nil {
		return nil, err
	}
	requests += ec2Requests

	now := c.clock.Now()
	c.mu.Lock()
	for name, g := range groups {
		members := make(map[string]cloud.Instance, len(g.Instances))
		for _, in := range g.Instances {
			members[in.ID] = in
		}
		c.groups[name] = &observation{min: g.MinSize, max: g.MaxSize, desired: g.DesiredCapacity, members: members,
			suspended: append([]string(nil), g.SuspendedProcesses...), at: now}
	}
	c.mu.Unlock()

	c.log.V(2).Info("Described Auto Scaling groups", "groups", len(groups), "calls", requests)

	var missing []string
	for _, n := range sorted {
		if _, ok := groups[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		for _, n := range missing {
			c.forget(n)
		}
		return groups, fmt.Errorf("describing Auto Scaling groups: %w", &cloud.MissingGroupsError{Names: missing})
	}
	return groups, nil
}

// fillAddresses fills the EC2 facts of the groups' instances, calling DescribeInstances for
// the instances not known yet, and forgets instances that left the groups. It returns the
// number of requests sent.
func (c *Client) fillAddresses(ctx context.Context, groups map[string]cloud.Group) (int, error) {
	memberOf := map[string]string{} // instance id → group
	c.mu.Lock()
	var unknown []string
	for _, name := range sortedKeys(groups) {
		for _, in := range groups[name].Instances {
			memberOf[in.ID] = name
			k, ok := c.known[in.ID]
			if !ok || k.ec2.State == "pending" {
				unknown = append(unknown, in.ID)
			}
		}
	}
	c.mu.Unlock()

	found := map[string]cloud.EC2Instance{}
	requests := 0
	for start := 0; start < len(unknown); start += maxFilterValues {
		chunk := unknown[start:min(start+maxFilterValues, len(unknown))]
		// The instance-id filter, unlike InstanceIds, leaves out ids EC2 does not know yet
		// (EC2 is eventually consistent after a launch) instead of failing the request.
		p := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{
			Filters:    []ec2types.Filter{{Name: sdkaws.String("instance-id"), Values: chunk}},
			MaxResults: sdkaws.Int32(1000),
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			requests++
			if err != nil {
				return requests, fmt.Errorf("describing %d EC2 instances of Auto Scaling groups %s: %w",
					len(chunk), quoteList(sortedKeys(groups)), apiError("DescribeInstances", err))
			}
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					if e := ec2InstanceOf(in); e.ID != "" {
						found[e.ID] = e
					}
				}
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range found {
		if g, ok := memberOf[id]; ok {
			c.known[id] = knownInstance{ec2: e, group: g}
		}
	}
	for id, k := range c.known {
		if _, described := groups[k.group]; described && memberOf[id] != k.group {
			delete(c.known, id) // left the group (or moved: it is known again under the new one)
		}
	}
	facts := make(map[string]cloud.EC2Instance, len(memberOf))
	for id := range memberOf {
		if k, ok := c.known[id]; ok {
			facts[id] = k.ec2
		}
	}
	var invisible []string
	for name, g := range groups {
		invisible = append(invisible, g.FillFromEC2(facts)...)
		groups[name] = g
	}
	if len(invisible) > 0 {
		c.log.V(2).Info("Instances not yet visible in EC2; addresses unknown", "instances", invisible)
	}
	return requests, nil
}

// groupOf converts an SDK group.
func groupOf(ag *asgtypes.AutoScalingGroup) (cloud.Group, error) {
	name := sdkaws.ToString(ag.AutoScalingGroupName)
	if name == "" {
		return cloud.Group{}, errors.New("a group has no AutoScalingGroupName")
	}
	if ag.MinSize == nil || ag.MaxSize == nil || ag.DesiredCapacity == nil {
		return cloud.Group{}, fmt.Errorf("group %q lacks MinSize, MaxSize or DesiredCapacity", name)
	}
	g := cloud.Group{
		Name:              name,
		MinSize:           *ag.MinSize,
		MaxSize:           *ag.MaxSize,
		DesiredCapacity:   *ag.DesiredCapacity,
		AvailabilityZones: ag.AvailabilityZones,
		Status:            sdkaws.ToString(ag.Status),
		Instances:         make([]cloud.Instance, 0, len(ag.Instances)),
	}
	for _, in := range ag.Instances {
		id := sdkaws.ToString(in.InstanceId)
		if id == "" {
			return cloud.Group{}, fmt.Errorf("group %q: an instance has no InstanceId", name)
		}
		w, err := weightOf(in.WeightedCapacity)
		if err != nil {
			return cloud.Group{}, fmt.Errorf("group %q: instance %s: %w", name, id, err)
		}
		g.Instances = append(g.Instances, cloud.Instance{
			ID:                   id,
			AvailabilityZone:     sdkaws.ToString(in.AvailabilityZone),
			LifecycleState:       string(in.LifecycleState),
			HealthStatus:         sdkaws.ToString(in.HealthStatus),
			ProtectedFromScaleIn: sdkaws.ToBool(in.ProtectedFromScaleIn),
			InstanceType:         sdkaws.ToString(in.InstanceType),
			WeightedCapacity:     w,
		})
	}
	for _, p := range ag.SuspendedProcesses {
		if n := sdkaws.ToString(p.ProcessName); n != "" {
			g.SuspendedProcesses = append(g.SuspendedProcesses, n)
		}
	}
	if mip := ag.MixedInstancesPolicy; mip != nil && mip.LaunchTemplate != nil {
		for i, o := range mip.LaunchTemplate.Overrides {
			w, err := weightOf(o.WeightedCapacity)
			if err != nil {
				return cloud.Group{}, fmt.Errorf("group %q: launch template override %d: %w", name, i, err)
			}
			if t := sdkaws.ToString(o.InstanceType); t != "" { // attribute-based overrides name no type
				g.InstanceTypes = append(g.InstanceTypes, cloud.InstanceTypeWeight{InstanceType: t, WeightedCapacity: w})
			}
		}
	}
	return g, nil
}

// weightOf parses a WeightedCapacity ("2"): 1 when absent, an error unless a whole number of
// at least 1.
func weightOf(s *string) (int32, error) {
	if s == nil || *s == "" {
		return 1, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("WeightedCapacity %q is not a whole number of capacity units of at least 1", *s)
	}
	return int32(n), nil
}

// ec2InstanceOf converts an SDK EC2 instance.
func ec2InstanceOf(in ec2types.Instance) cloud.EC2Instance {
	e := cloud.EC2Instance{
		ID:             sdkaws.ToString(in.InstanceId),
		InstanceType:   string(in.InstanceType),
		PrivateIP:      sdkaws.ToString(in.PrivateIpAddress),
		PrivateDNSName: sdkaws.ToString(in.PrivateDnsName),
	}
	if in.Placement != nil {
		e.AvailabilityZone = sdkaws.ToString(in.Placement.AvailabilityZone)
	}
	if in.State != nil {
		e.State = string(in.State.Name)
	}
	if in.LaunchTime != nil {
		e.LaunchTime = in.LaunchTime.UTC()
	}
	return e
}

// quoteList quotes names for an error message, at most 10.
func quoteList(names []string) string {
	q := make([]string, 0, min(len(names), 10))
	for i, n := range names {
		if i == 10 {
			return strings.Join(q, ", ") + fmt.Sprintf(" and %d more", len(names)-10)
		}
		q = append(q, strconv.Quote(n))
	}
	return strings.Join(q, ", ")
}
