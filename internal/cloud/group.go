// Package cloud models the node group behind a pool (an AWS Auto Scaling group) as the planner
// sees it: bounds, desired capacity and member instances with their lifecycle states. The aws
// subpackage fills it from the AWS APIs; this package also reads the JSON the AWS CLI prints, for
// offline planning. It makes no scaling decision.
package cloud

import (
	"strings"
	"time"
)

// Group is one observation of an Auto Scaling group.
// Source: AutoScaling DescribeAutoScalingGroups (and EC2 DescribeInstances for addresses).
type Group struct {
	// Name is the Auto Scaling group name.
	Name string `json:"name"`
	// MinSize, MaxSize and DesiredCapacity are the group's bounds and target, in instances,
	// or in capacity units when the group uses instance weights (see Weighted): then each
	// instance counts for its WeightedCapacity, and AWS may overshoot the desired capacity
	// by less than the largest weight.
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
// Source: AutoScaling DescribeAutoScalingGroups, "Instances[].LifecycleState". States not
// listed here (and any state AWS adds later) are neither capacity nor upcoming.
const (
	StatePending        = "Pending"
	StatePendingWait    = "Pending:Wait"
	StatePendingProceed = "Pending:Proceed"
	StateInService      = "InService"
	// StateQuarantined is an instance AWS holds out of service for investigation.
	StateQuarantined = "Quarantined"
	// StateTerminating and the states below it are an instance leaving the group for good;
	// ":Wait" is a terminate lifecycle hook holding it, ":Retained" a hook that failed and
	// left it running for inspection.
	StateTerminating         = "Terminating"
	StateTerminatingWait     = "Terminating:Wait"
	StateTerminatingProceed  = "Terminating:Proceed"
	StateTerminatingRetained = "Terminating:Retained"
	StateTerminated          = "Terminated"
	// StateDetaching and StateDetached are an instance being removed from the group
	// (DetachInstances) without being terminated.
	StateDetaching = "Detaching"
	StateDetached  = "Detached"
	// StateEnteringStandby and StateStandby are an instance taken out of service
	// (EnterStandby); it stays a member but is not capacity until ExitStandby.
	StateEnteringStandby = "EnteringStandby"
	StateStandby         = "Standby"
	// WarmPoolStatePrefix begins the states of warm-pool instances ("Warmed:Stopped",
	// "Warmed:Running", ...). AWS lists those with DescribeWarmPool, not as group members;
	// one seen among the members is not capacity.
	WarmPoolStatePrefix = "Warmed:"
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

// IsCapacity reports whether the instance counts as capacity now: only an InService
// instance does. Pending ones are upcoming (IsUpcoming); Standby, Detaching, Terminating*,
// Quarantined, warm-pool and unknown states are not capacity.
func (i Instance) IsCapacity() bool { return i.LifecycleState == StateInService }

// IsTerminatingOrGone reports whether the instance is leaving or has left the group for
// good: Terminating, Terminating:Wait, Terminating:Proceed, Terminating:Retained,
// Terminated, Detaching or Detached (and their warm-pool "Warmed:" forms). Such an instance
// is neither capacity nor upcoming, and must not be terminated again.
func (i Instance) IsTerminatingOrGone() bool {
	s := strings.TrimPrefix(i.LifecycleState, WarmPoolStatePrefix)
	return strings.HasPrefix(s, "Terminat") || s == StateDetaching || s == StateDetached
}

// IsStandby reports whether the instance is in (or entering) the Standby state: a member
// that is not capacity and that the group does not replace.
func (i Instance) IsStandby() bool {
	return i.LifecycleState == StateStandby || i.LifecycleState == StateEnteringStandby
}

// IsWarmPool reports whether the instance is in a warm-pool state ("Warmed:Stopped", ...).
func (i Instance) IsWarmPool() bool { return strings.HasPrefix(i.LifecycleState, WarmPoolStatePrefix) }

// CanTerminate reports whether the controller may terminate the instance: only an
// InService instance, which is not already terminating, may be. Terminating*, Standby,
// Detaching, Pending*, warm-pool and unknown states may not (protection from scale in is
// checked apart).
func (i Instance) CanTerminate() bool { return i.LifecycleState == StateInService }

// Units returns the capacity units the instance counts for: its WeightedCapacity, 1 when
// unset.
func (i Instance) Units() int32 { return max(i.WeightedCapacity, 1) }

// Weighted reports whether the group counts capacity in units other than instances: a
// mixed instances policy override, or a member, carries a weight other than 1. MinSize,
// MaxSize and DesiredCapacity are then in capacity units. (A policy whose weights are all 1
// is reported unweighted: units and instances are then the same.)
func (g Group) Weighted() bool {
	for _, t := range g.InstanceTypes {
		if t.WeightedCapacity > 1 {
			return true
		}
	}
	for _, in := range g.Instances {
		if in.WeightedCapacity > 1 {
			return true
		}
	}
	return false
}

// WeightOf returns the capacity units one instance of instanceType counts for in the
// group: the weight of its mixed instances policy override, else the weight a member of
// that type reports (an override removed since keeps its members' last weight), else 1.
func (g Group) WeightOf(instanceType string) int32 {
	for _, t := range g.InstanceTypes {
		if t.InstanceType == instanceType {
			return max(t.WeightedCapacity, 1)
		}
	}
	for _, in := range g.Instances {
		if in.InstanceType == instanceType && in.WeightedCapacity > 0 {
			return in.WeightedCapacity
		}
	}
	return 1
}

// CapacityUnits returns the group's capacity now, in the units of DesiredCapacity: the sum
// of the weights of its InService members (IsCapacity). Each member counts for the
// WeightedCapacity AWS reports for it, else for WeightOf its type.
func (g Group) CapacityUnits() int32 {
	var n int32
	for _, in := range g.Instances {
		if in.IsCapacity() {
			n += g.unitsOf(in)
		}
	}
	return n
}

// UpcomingUnits returns the capacity, in the units of DesiredCapacity, of the members
// still launching (IsUpcoming: Pending, Pending:Wait, Pending:Proceed).
func (g Group) UpcomingUnits() int32 {
	var n int32
	for _, in := range g.Instances {
		if in.IsUpcoming() {
			n += g.unitsOf(in)
		}
	}
	return n
}

// unitsOf is the weight of member in.
func (g Group) unitsOf(in Instance) int32 {
	if in.WeightedCapacity > 0 {
		return in.WeightedCapacity
	}
	return g.WeightOf(in.InstanceType)
}

// InstanceTypeShape is the size of an EC2 instance type, before any overhead the operator
// subtracts for the operating system and the Mesos agent.
// Source: EC2 DescribeInstanceTypes, "InstanceTypes[].VCpuInfo.DefaultVCpus" and
// "InstanceTypes[].MemoryInfo.SizeInMiB".
type InstanceTypeShape struct {
	// VCPUs is the instance type's default number of vCPUs.
	VCPUs int32 `json:"vcpus"`
	// MemoryMiB is the instance type's memory, in MiB.
	MemoryMiB int64 `json:"memoryMiB"`
}
