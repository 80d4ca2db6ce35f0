// Package planner decides the desired node count of a Mesos agent pool and explains why.
//
// It is pure and deterministic: Plan takes the policy settings, one cluster snapshot, one
// Auto Scaling group observation, the pending demand, the memory kept between reconciles and
// the current time, and returns a Decision. It does no I/O, reads no clock and keeps no state;
// everything that must survive between reconciles comes in and goes out through Memory.
package planner

import (
	"time"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/marathon"
	"github.com/lambdascale/lambdascale/internal/mesos"
)

// Config is the resolved (defaulted, validated) policy the planner applies.
type Config struct {
	// Name is the policy name, copied into the Decision.
	Name string
	// Role is the Mesos role whose capacity counts ("*" for unreserved resources only).
	Role string
	// AgentSelector selects pool agents by attribute value; empty selects every agent.
	AgentSelector map[string]string
	// Resources are the resources whose utilization counts (cpus, mem, disk, gpus).
	Resources []mesos.ResourceName
	// ScaleUpPercent and ScaleDownPercent are the utilization thresholds in percent.
	ScaleUpPercent   int32
	ScaleDownPercent int32
	// HeadroomPercent is X: the pool must place X percent more copies of every application.
	HeadroomPercent int32
	// MinNodes and MaxNodes bound the node count (intersected with the group's bounds).
	MinNodes int32
	MaxNodes int32
	// ScaleUpMaxStep is the most nodes added at once (0 = unlimited).
	ScaleUpMaxStep int32
	// ScaleUpCooldown is the time after a scale-up before the next one.
	ScaleUpCooldown time.Duration
	// ScaleDownEnabled allows removing nodes.
	ScaleDownEnabled bool
	// ScaleDownMaxStep is the most nodes removed at once (0 = unlimited).
	ScaleDownMaxStep int32
	// ScaleDownStabilization is how long a scale-down recommendation must hold.
	ScaleDownStabilization time.Duration
	// ScaleDownIdleOnly restricts removal to agents that run no task (used until agents can
	// be drained through Mesos maintenance).
	ScaleDownIdleOnly bool
	// RegistrationTimeout is how long a launched instance may take to register as an agent
	// before it stops counting as upcoming capacity (0: forever).
	RegistrationTimeout time.Duration
	// MaxUnregisteredPercent blocks scale-down while more than this percent of the group's
	// instances are not registered agents.
	MaxUnregisteredPercent int32
	// InstanceIDAttribute, when set, matches agents to instances by this agent attribute
	// (holding the EC2 instance id) instead of by private IP.
	InstanceIDAttribute string
	// InstanceOverhead is what an instance keeps from Mesos (cores, MiB), subtracted from the
	// EC2 figures of an instance type.
	InstanceOverhead mesos.Resources
	// ProtectedApplications are application ids, or prefixes ending in "/" or "*", whose tasks
	// must not be disrupted: their agents are removed only when the application also runs on
	// an agent that stays.
	ProtectedApplications []string
	// NodeShape is what one new node brings (CPUs in cores, Mem and Disk in MiB); nil infers
	// it from the pool's agents.
	NodeShape *mesos.Resources
	// NodeShapeSpecified names the resources of NodeShape the policy set; the others are
	// inferred from the pool's agents. Nil means every resource is set.
	NodeShapeSpecified map[mesos.ResourceName]bool
}

// Input is everything one decision depends on.
type Input struct {
	Config Config
	// Snapshot is the Mesos view (required).
	Snapshot *mesos.Snapshot
	// Group is the Auto Scaling group; nil when unknown (then the pool agents are the current
	// capacity and the bounds are the policy's).
	Group *cloud.Group
	// Pending is Marathon's launch queue (may be empty).
	Pending []marathon.QueueItem
	// Memory is what the previous reconciles left.
	Memory Memory
	// Apps are Marathon's applications (GET /v2/apps), for the constraints and accepted roles
	// of headroom copies; may be empty.
	Apps []marathon.App
	// InstanceTypes are EC2's figures per instance type (vCPUs as CPUs, memory in MiB), from
	// DescribeInstanceTypes; may be empty.
	InstanceTypes map[string]mesos.Resources
	// FailedLaunches are the group's recent launch activities that Failed or were Cancelled
	// (DescribeScalingActivities), newest first.
	FailedLaunches []cloud.Activity
	// Draining are the agents this policy is draining for removal (by agent id). They are
	// not capacity, are not chosen again, count against spec.scaleDown.maxNodesPerStep, and
	// are the first capacity given back when growth is needed.
	Draining []string
	// Now is the decision time.
	Now time.Time
}

// Memory is the state the planner needs across reconciles; the controller keeps it in status.
type Memory struct {
	// ScaleDownSince is when the current scale-down recommendation started to hold (zero: none).
	ScaleDownSince time.Time `json:"scaleDownSince,omitzero"`
	// LastScaleUp is when the pool was last grown (zero: never).
	LastScaleUp time.Time `json:"lastScaleUp,omitzero"`
	// ScaleUpFailures counts consecutive scale-ups whose instances failed to launch or to
	// register; ScaleUpBackoffUntil is when growth may be tried again.
	ScaleUpFailures     int       `json:"scaleUpFailures,omitempty"`
	ScaleUpBackoffUntil time.Time `json:"scaleUpBackoffUntil,omitzero"`
	// PoolAgents is the number of pool agents the previous decision counted (for the brake
	// on a sudden loss of agents).
	PoolAgents int `json:"poolAgents,omitempty"`
}

// Direction is the kind of change a decision asks for.
type Direction string

// Directions of a Decision.
const (
	ScaleUp   Direction = "ScaleUp"
	ScaleDown Direction = "ScaleDown"
	NoChange  Direction = "NoChange"
)

// Reason is one CamelCase reason and a message a person understands.
type Reason struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Reasons the planner gives.
const (
	ReasonUtilizationHigh        = "UtilizationHigh"
	ReasonUtilizationLow         = "UtilizationLow"
	ReasonUtilizationNormal      = "UtilizationNormal"
	ReasonHeadroomShort          = "HeadroomShort"
	ReasonHeadroomMet            = "HeadroomMet"
	ReasonPendingTasks           = "PendingTasks"
	ReasonUnschedulable          = "Unschedulable"
	ReasonScalingLimited         = "ScalingLimited"
	ReasonBelowMinimum           = "BelowMinimum"
	ReasonAboveMaximum           = "AboveMaximum"
	ReasonScaleUpStepLimited     = "ScaleUpStepLimited"
	ReasonScaleUpCooldown        = "ScaleUpCooldown"
	ReasonScaleDownStabilizing   = "ScaleDownStabilizing"
	ReasonScaleDownDisabled      = "ScaleDownDisabled"
	ReasonScaleDownBlocked       = "ScaleDownBlocked"
	ReasonScaleDownStepLimited   = "ScaleDownStepLimited"
	ReasonNodeShapeUnknown       = "NodeShapeUnknown"
	ReasonNodeShapeInferred      = "NodeShapeInferred"
	ReasonUpcomingCapacity       = "UpcomingCapacity"
	ReasonAgentsNotMatched       = "AgentsNotMatched"
	ReasonNoPoolAgents           = "NoPoolAgents"
	ReasonAlreadyScaling         = "AlreadyScaling"
	ReasonUnmatchedAgents        = "UnmatchedAgents"
	ReasonSelectorMismatch       = "SelectorMismatch"
	ReasonInstancesLeaving       = "InstancesLeaving"
	ReasonInstancesNotRegistered = "InstancesNotRegistered"
	ReasonScaleUpFailed          = "ScaleUpFailed"
	ReasonScaleUpBackoff         = "ScaleUpBackoff"
	ReasonNodeShapeFromType      = "NodeShapeFromInstanceType"
	ReasonNotForThisPool         = "NotForThisPool"
	ReasonPendingDelayed         = "PendingDelayed"
	ReasonAgentsLost             = "AgentsLost"
	ReasonUndrain                = "Undrain"
	ReasonDrainBudget            = "DrainBudget"
)

// Utilization is the use of one counted resource across the pool.
type Utilization struct {
	// Resource is cpus, mem, disk or gpus.
	Resource mesos.ResourceName `json:"resource"`
	// Used and Total are in Mesos units (cores, MiB); Total includes upcoming nodes.
	Used  float64 `json:"used"`
	Total float64 `json:"total"`
	// Percent is 100·Used/Total (0 when Total is 0).
	Percent float64 `json:"percent"`
}

// Unschedulable is an application some of whose copies fit no node of this pool.
type Unschedulable struct {
	// Application is the application id.
	Application string `json:"application"`
	// Copies is the number of copies that fit nowhere.
	Copies int `json:"copies"`
	// Resources is one copy's shape.
	Resources mesos.Resources `json:"resources"`
	// Source is "pending" (Marathon queue) or "headroom".
	Source string `json:"source"`
}

// Decision is the planner's answer: how many nodes the pool should have and why.
type Decision struct {
	// Policy is the policy name.
	Policy string `json:"policy"`
	// Time is the decision time (Input.Now).
	Time time.Time `json:"time"`
	// CurrentCapacity is the group's desired capacity when the group is known, else the number
	// of pool agents.
	CurrentCapacity int32 `json:"currentCapacity"`
	// DesiredCapacity is the node count the pool should have.
	DesiredCapacity int32 `json:"desiredCapacity"`
	// Direction is ScaleUp, ScaleDown or NoChange.
	Direction Direction `json:"direction"`
	// PoolAgents is the number of registered, active, non-draining agents counted.
	PoolAgents int `json:"poolAgents"`
	// UpcomingNodes is the number of launched instances not yet registered as agents.
	UpcomingNodes int `json:"upcomingNodes"`
	// MinCapacity and MaxCapacity are the bounds applied (policy ∩ group).
	MinCapacity int32 `json:"minCapacity"`
	MaxCapacity int32 `json:"maxCapacity"`
	// NodeShape is the shape of one new node (cores, MiB).
	NodeShape mesos.Resources `json:"nodeShape"`
	// Utilization has one entry per counted resource, in the policy's order.
	Utilization []Utilization `json:"utilization"`
	// NodesForDemand is the number of new nodes the pending and headroom copies need.
	NodesForDemand int `json:"nodesForDemand"`
	// NodesForUtilization is the number of new nodes the utilization threshold needs.
	NodesForUtilization int `json:"nodesForUtilization"`
	// Reasons explain the decision, most important first.
	Reasons []Reason `json:"reasons"`
	// ScaleDownAgents are the ids of the agents chosen for removal (ScaleDown only).
	ScaleDownAgents []string `json:"scaleDownAgents"`
	// ScaleDownInstances are the EC2 instance ids of ScaleDownAgents, in the same order (empty
	// strings when the group or the instance addresses are unknown).
	ScaleDownInstances []string `json:"scaleDownInstances"`
	// UndrainAgents are draining agents to give back to Mesos because growth is needed; they
	// are the cheapest capacity, so new nodes are added only for what they do not cover.
	UndrainAgents []string `json:"undrainAgents,omitempty"`
	// Unschedulable lists the application ids with copies that fit no node.
	Unschedulable []string `json:"unschedulable"`
	// UnschedulableDetails says, per application, how many copies of which shape fit nowhere.
	UnschedulableDetails []Unschedulable `json:"unschedulableDetails,omitempty"`
	// Memory is the memory to keep for the next reconcile (kept in status by the controller).
	Memory Memory `json:"-"`
	// Units is true when the group counts capacity in weighted units: CurrentCapacity,
	// DesiredCapacity, MinCapacity and MaxCapacity are then units, not instances.
	Units bool `json:"units,omitempty"`
	// MissingInstances are instances that did not register as agents in time.
	MissingInstances []string `json:"missingInstances,omitempty"`
}
