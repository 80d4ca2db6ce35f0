// Package cloud models the node group behind a pool (an AWS Auto Scaling group) as the planner
// sees it: bounds, desired capacity and member instances with their lifecycle states. The aws
// subpackage fills it from the AWS APIs; this package also reads the JSON the AWS CLI prints, for
// offline planning. It makes no scaling decision.
package cloud

import "time"

// Group is one observation of an Auto Scaling group.
// Source: AutoScaling DescribeAutoScalingGroups (and EC2 DescribeInstances for addresses).
type Group struct {
	// Name is the Auto Scaling group name.
	Name string `json:"name"`
	// MinSize, MaxSize and DesiredCapacity are the group's bounds and target, in instances
	// (or capacity units when the group uses instance weights).
	MinSize         int32 `json:"minSize"`
	MaxSize         int32 `json:"maxSize"`
	DesiredCapacity int32 `json:"desiredCapacity"`
	// Instances are the group's member instances.
	Instances []Instance `json:"instances"`
	// SuspendedProcesses are the names of suspended scaling processes ("Terminate", "AZRebalance").
	SuspendedProcesses []string `json:"suspendedProcesses,omitempty"`
	// AvailabilityZones are the group's zones.
	AvailabilityZones []string `json:"availabilityZones,omitempty"`
	// InstanceTypes are the instance types the group may launch, with their weights in
	// capacity units, from its mixed instances policy ("MixedInstancesPolicy.LaunchTemplate.
	// Overrides"). Empty when the group has no mixed instances policy; overrides that choose
	// types by attributes ("InstanceRequirements") name no type and are not listed.
	InstanceTypes []InstanceTypeWeight `json:"instanceTypes,omitempty"`
	// Status is the group's status, which AWS reports only while the group is being deleted
	// ("Delete in progress"); empty otherwise.
	Status string `json:"status,omitempty"`
}

// InstanceTypeWeight is one instance type of a mixed instances policy and its weight.
// Source: AutoScaling DescribeAutoScalingGroups, "MixedInstancesPolicy.LaunchTemplate.Overrides".
type InstanceTypeWeight struct {
	// InstanceType is the EC2 instance type ("m5.2xlarge").
	InstanceType string `json:"instanceType"`
	// WeightedCapacity is the number of capacity units one instance of this type counts for
	// (1 when the override sets no weight).
	WeightedCapacity int32 `json:"weightedCapacity"`
}

// IsSuspended reports whether the scaling process named process ("Terminate", "Launch",
// "AZRebalance", ...) is suspended on the group.
func (g Group) IsSuspended(process string) bool {
	for _, p := range g.SuspendedProcesses {
		if p == process {
			return true
		}
	}
	return false
}

// Instance is one member of an Auto Scaling group.
type Instance struct {
	// ID is the EC2 instance id ("i-0abc...").
	ID string `json:"id"`
	// AvailabilityZone is the instance's zone ("us-east-1a").
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// LifecycleState is the Auto Scaling lifecycle state ("Pending", "InService",
	// "Terminating:Wait", ...).
	LifecycleState string `json:"lifecycleState"`
	// HealthStatus is "Healthy" or "Unhealthy".
	HealthStatus string `json:"healthStatus,omitempty"`
	// ProtectedFromScaleIn is the instance's scale-in protection.
	ProtectedFromScaleIn bool `json:"protectedFromScaleIn,omitempty"`
	// InstanceType is the EC2 instance type ("m5.2xlarge").
	InstanceType string `json:"instanceType,omitempty"`
	// WeightedCapacity is the instance's weight in capacity units (1 when unweighted).
	WeightedCapacity int32 `json:"weightedCapacity,omitempty"`
	// PrivateIP is the instance's primary private IPv4 address, from EC2 DescribeInstances;
	// empty when unknown.
	PrivateIP string `json:"privateIP,omitempty"`
	// PrivateDNSName is the instance's private DNS name, from EC2 DescribeInstances.
	PrivateDNSName string `json:"privateDNSName,omitempty"`
	// LaunchTime is when EC2 launched the instance (zero when unknown).
	LaunchTime time.Time `json:"launchTime,omitzero"`
	// EC2State is the instance's EC2 state name ("pending", "running", "shutting-down", ...),
	// from EC2 DescribeInstances; empty when unknown.
	EC2State string `json:"ec2State,omitempty"`
}

// Lifecycle states of Auto Scaling instances that the planner tells apart.
const (
	StatePending        = "Pending"
	StatePendingWait    = "Pending:Wait"
	StatePendingProceed = "Pending:Proceed"
	StateInService      = "InService"
)

// IsUpcoming reports whether the instance is launching and will become capacity.
func (i Instance) IsUpcoming() bool {
	switch i.LifecycleState {
	case StatePending, StatePendingWait, StatePendingProceed:
		return true
	}
	return false
}

// IsInService reports whether the instance is in service.
func (i Instance) IsInService() bool { return i.LifecycleState == StateInService }
