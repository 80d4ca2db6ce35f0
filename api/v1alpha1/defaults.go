package v1alpha1

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Names of the Mesos scalar resources a policy may count or shape.
const (
	// ResourceCPUs is the Mesos "cpus" resource, in cores.
	ResourceCPUs = "cpus"
	// ResourceMem is the Mesos "mem" resource, in MiB (written as a byte quantity in the spec).
	ResourceMem = "mem"
	// ResourceDisk is the Mesos "disk" resource, in MiB (written as a byte quantity in the spec).
	ResourceDisk = "disk"
	// ResourceGPUs is the Mesos "gpus" resource, in devices.
	ResourceGPUs = "gpus"
)

// SupportedResources lists, in a fixed order, the resource names utilization.resources and
// nodeShape accept.
var SupportedResources = []string{ResourceCPUs, ResourceMem, ResourceDisk, ResourceGPUs}

// Defaults of the optional fields, applied by SetDefaults.
const (
	// DefaultRole is the default spec.mesos.role: unreserved resources only.
	DefaultRole = "*"
	// DefaultMinNodes is the default spec.minNodes.
	DefaultMinNodes int32 = 1
	// DefaultMaxNodes is the default spec.maxNodes.
	DefaultMaxNodes int32 = 100
	// DefaultScaleUpPercent is the default spec.utilization.scaleUpPercent.
	DefaultScaleUpPercent int32 = 80
	// DefaultScaleDownPercent is the default spec.utilization.scaleDownPercent.
	DefaultScaleDownPercent int32 = 40
	// DefaultApplicationHeadroomPercent is the default spec.applicationHeadroomPercent.
	DefaultApplicationHeadroomPercent int32 = 20
	// DefaultScaleUpMaxNodesPerStep is the default spec.scaleUp.maxNodesPerStep (unlimited).
	DefaultScaleUpMaxNodesPerStep int32 = 0
	// DefaultScaleUpCooldownSeconds is the default spec.scaleUp.cooldownSeconds (none).
	DefaultScaleUpCooldownSeconds int32 = 0
	// DefaultScaleDownMaxNodesPerStep is the default spec.scaleDown.maxNodesPerStep.
	DefaultScaleDownMaxNodesPerStep int32 = 1
	// DefaultScaleDownStabilizationSeconds is the default spec.scaleDown.stabilizationSeconds.
	DefaultScaleDownStabilizationSeconds int32 = 600
	// DefaultScaleDownDrainTimeoutSeconds is the default spec.scaleDown.drainTimeoutSeconds.
	DefaultScaleDownDrainTimeoutSeconds int32 = 600
	// DefaultRegistrationTimeoutSeconds is the default spec.scaleUp.registrationTimeoutSeconds.
	DefaultRegistrationTimeoutSeconds int32 = 900
	// DefaultMaxUnregisteredPercent is the default spec.scaleDown.maxUnregisteredPercent.
	DefaultMaxUnregisteredPercent int32 = 30
	// DefaultIntervalSeconds is the default spec.intervalSeconds.
	DefaultIntervalSeconds int32 = 60
	// DefaultMode is the default spec.mode.
	DefaultMode = ModeEnforce
	// DefaultScaleDownPolicy is the default spec.scaleDown.policy.
	DefaultScaleDownPolicy = ScaleDownPolicyEnabled
)

// DefaultResources returns the default spec.utilization.resources, [cpus, mem], as a new slice.
func DefaultResources() []string { return []string{ResourceCPUs, ResourceMem} }

// SetDefaults fills every unset optional field of p's spec with its default, so the defaulted
// spec states every setting explicitly. Fields the user set, including explicit zeros and an
// explicit empty list, are left as written (validation reports the ones that are wrong).
// apiVersion, kind, metadata, the node shape, the agent selector, the credentials file, the
// Marathon URL and the region have no default. SetDefaults is idempotent; a nil p is ignored.
func SetDefaults(p *ScalingPolicy) {
	if p == nil {
		return
	}
	setSpecDefaults(&p.Spec)
}

func setSpecDefaults(s *ScalingPolicySpec) {
	if s.Mesos.Role == "" {
		s.Mesos.Role = DefaultRole
	}
	setInt32(&s.MinNodes, DefaultMinNodes)
	setInt32(&s.MaxNodes, DefaultMaxNodes)
	// Only nil means unset: "resources: []" is an explicit (invalid) empty list, kept so that
	// validation can say so instead of silently counting cpus and mem.
	if s.Utilization.Resources == nil {
		s.Utilization.Resources = DefaultResources()
	}
	setInt32(&s.Utilization.ScaleUpPercent, DefaultScaleUpPercent)
	setInt32(&s.Utilization.ScaleDownPercent, DefaultScaleDownPercent)
	setInt32(&s.ApplicationHeadroomPercent, DefaultApplicationHeadroomPercent)
	setInt32(&s.ScaleUp.MaxNodesPerStep, DefaultScaleUpMaxNodesPerStep)
	setInt32(&s.ScaleUp.CooldownSeconds, DefaultScaleUpCooldownSeconds)
	setInt32(&s.ScaleUp.RegistrationTimeoutSeconds, DefaultRegistrationTimeoutSeconds)
	if s.ScaleDown.Policy == "" {
		s.ScaleDown.Policy = DefaultScaleDownPolicy
	}
	setInt32(&s.ScaleDown.MaxNodesPerStep, DefaultScaleDownMaxNodesPerStep)
	setInt32(&s.ScaleDown.StabilizationSeconds, DefaultScaleDownStabilizationSeconds)
	setInt32(&s.ScaleDown.DrainTimeoutSeconds, DefaultScaleDownDrainTimeoutSeconds)
	setInt32(&s.ScaleDown.MaxUnregisteredPercent, DefaultMaxUnregisteredPercent)
	if s.ScaleDown.DrainTimeoutAction == "" {
		s.ScaleDown.DrainTimeoutAction = DrainTimeoutAbort
	}
	if s.AutoScalingGroup.InstanceOverhead == nil {
		s.AutoScalingGroup.InstanceOverhead = map[string]resource.Quantity{ResourceMem: resource.MustParse("1Gi")}
	}
	setInt32(&s.IntervalSeconds, DefaultIntervalSeconds)
	if s.Mode == "" {
		s.Mode = DefaultMode
	}
}

func setInt32(p **int32, v int32) {
	if *p == nil {
		*p = &v
	}
}

// Settings is a policy spec with every default applied, as plain values the planner and the
// controller read without nil checks. Slices and maps are copies: changing them does not
// change the policy.
type Settings struct {
	// Masters are the Mesos master base URLs.
	Masters []string
	// Role is the Mesos role whose capacity counts.
	Role string
	// MatchAttributes select the pool's agents by attribute; empty selects every agent.
	MatchAttributes map[string]string
	// CredentialsFile is the path of the Mesos credentials file; empty for none.
	CredentialsFile string
	// MarathonURL is the Marathon base URL; empty when Marathon is not read.
	MarathonURL string
	// AutoScalingGroupName is the name of the pool's Auto Scaling group.
	AutoScalingGroupName string
	// Region is the AWS region of the group; empty for the AWS default chain.
	Region string
	// MinNodes and MaxNodes bound the node count (before the intersection with the group's
	// MinSize and MaxSize).
	MinNodes, MaxNodes int32
	// NodeShape is the spec's node shape in Mesos units; its Specified list is empty when
	// the shape is to be inferred.
	NodeShape NodeShape
	// Resources are the resource names whose utilization counts (cpus, mem, disk, gpus).
	Resources []string
	// ScaleUpPercent and ScaleDownPercent are the utilization thresholds, in percent.
	ScaleUpPercent, ScaleDownPercent int32
	// ApplicationHeadroomPercent is the application headroom X in percent; 0 disables it.
	ApplicationHeadroomPercent int32
	// ScaleUpMaxNodesPerStep is the most nodes added in one reconcile; 0 means unlimited.
	ScaleUpMaxNodesPerStep int32
	// ScaleUpCooldown is the time after a scale-up before the next one; 0 means none.
	ScaleUpCooldown time.Duration
	// ScaleDownEnabled reports whether the controller may remove nodes.
	ScaleDownEnabled bool
	// ScaleDownMaxNodesPerStep is the most nodes removed in one step; 0 means unlimited.
	ScaleDownMaxNodesPerStep int32
	// ScaleDownStabilization is how long a scale-down recommendation must hold.
	ScaleDownStabilization time.Duration
	// RegistrationTimeout is how long a launched instance may take to register as an agent.
	RegistrationTimeout time.Duration
	// MaxUnregisteredPercent blocks scale-down while more instances than this are unregistered.
	MaxUnregisteredPercent int32
	// InstanceIDAttribute is the agent attribute holding the instance id; empty matches by IP.
	InstanceIDAttribute string
	// InstanceOverhead is what an instance keeps from Mesos (cpus in cores, mem and disk in
	// MiB), subtracted from EC2's instance type figures.
	InstanceOverheadCPUs, InstanceOverheadMemMiB, InstanceOverheadDiskMiB float64
	// DrainTimeoutForce is true when a drain that outlasts DrainTimeout terminates the node.
	DrainTimeoutForce bool
	// ProtectedApplications are application ids or prefixes whose tasks must not be disrupted.
	ProtectedApplications []string
	// DrainTimeout is the longest wait for a drained agent to run no tasks.
	DrainTimeout time.Duration
	// Interval is the time between two reconciles.
	Interval time.Duration
	// DryRun reports whether the policy only decides and reports (mode DryRun).
	DryRun bool
}

// Resolved returns the spec's settings with every default applied. It does not change s and
// does not need SetDefaults to have run first; it does not validate (call Validate for that).
func (s *ScalingPolicySpec) Resolved() Settings {
	d := *s // shallow copy: defaulting only replaces nil pointers and empty values of the copy
	setSpecDefaults(&d)
	out := Settings{
		Masters:                    slices.Clone(d.Mesos.Masters),
		Role:                       d.Mesos.Role,
		CredentialsFile:            d.Mesos.CredentialsFile,
		MarathonURL:                d.Mesos.MarathonURL,
		AutoScalingGroupName:       d.AutoScalingGroup.Name,
		Region:                     d.AutoScalingGroup.Region,
		MinNodes:                   *d.MinNodes,
		MaxNodes:                   *d.MaxNodes,
		NodeShape:                  d.MesosNodeShape(),
		Resources:                  slices.Clone(d.Utilization.Resources),
		ScaleUpPercent:             *d.Utilization.ScaleUpPercent,
		ScaleDownPercent:           *d.Utilization.ScaleDownPercent,
		ApplicationHeadroomPercent: *d.ApplicationHeadroomPercent,
		ScaleUpMaxNodesPerStep:     *d.ScaleUp.MaxNodesPerStep,
		ScaleUpCooldown:            seconds(*d.ScaleUp.CooldownSeconds),
		ScaleDownEnabled:           d.ScaleDown.Policy == ScaleDownPolicyEnabled,
		ScaleDownMaxNodesPerStep:   *d.ScaleDown.MaxNodesPerStep,
		ScaleDownStabilization:     seconds(*d.ScaleDown.StabilizationSeconds),
		DrainTimeout:               seconds(*d.ScaleDown.DrainTimeoutSeconds),
		RegistrationTimeout:        seconds(*d.ScaleUp.RegistrationTimeoutSeconds),
		MaxUnregisteredPercent:     *d.ScaleDown.MaxUnregisteredPercent,
		InstanceIDAttribute:        d.Mesos.InstanceIDAttribute,
		DrainTimeoutForce:          d.ScaleDown.DrainTimeoutAction == DrainTimeoutForce,
		ProtectedApplications:      slices.Clone(d.ScaleDown.ProtectedApplications),
		Interval:                   seconds(*d.IntervalSeconds),
		DryRun:                     d.Mode == ModeDryRun,
	}
	for name, q := range d.AutoScalingGroup.InstanceOverhead {
		v := q.AsApproximateFloat64()
		switch name {
		case ResourceCPUs:
			out.InstanceOverheadCPUs = v
		case ResourceMem:
			out.InstanceOverheadMemMiB = v / bytesPerMiB
		case ResourceDisk:
			out.InstanceOverheadDiskMiB = v / bytesPerMiB
		}
	}
	if d.Mesos.AgentSelector != nil && len(d.Mesos.AgentSelector.MatchAttributes) > 0 {
		out.MatchAttributes = make(map[string]string, len(d.Mesos.AgentSelector.MatchAttributes))
		for k, v := range d.Mesos.AgentSelector.MatchAttributes {
			out.MatchAttributes[k] = v
		}
	}
	return out
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

// bytesPerMiB is the number of bytes in the MiB Mesos counts mem and disk in.
const bytesPerMiB = 1 << 20

// NodeShape is the resources one new node brings to Mesos, in Mesos units: CPUs in cores,
// MemMiB and DiskMiB in MiB (bytes / 2^20), GPUs in devices.
type NodeShape struct {
	// CPUs is the node's cpus, in cores.
	CPUs float64
	// MemMiB is the node's mem, in MiB.
	MemMiB float64
	// DiskMiB is the node's disk, in MiB.
	DiskMiB float64
	// GPUs is the node's gpus, in devices.
	GPUs float64
	// Specified lists, in SupportedResources order, the resources the spec sets. The others
	// are zero here and are to be inferred from the pool's agents or instance type.
	Specified []string
}

// IsEmpty reports whether the spec sets no resource of the node shape, so the whole shape is to
// be inferred.
func (n NodeShape) IsEmpty() bool { return len(n.Specified) == 0 }

// IsSpecified reports whether the spec sets the named resource of the node shape.
func (n NodeShape) IsSpecified(resourceName string) bool {
	return slices.Contains(n.Specified, resourceName)
}

// Get returns the node shape's amount of the named resource in Mesos units, and whether the
// spec sets it.
func (n NodeShape) Get(resourceName string) (float64, bool) {
	if !n.IsSpecified(resourceName) {
		return 0, false
	}
	switch resourceName {
	case ResourceCPUs:
		return n.CPUs, true
	case ResourceMem:
		return n.MemMiB, true
	case ResourceDisk:
		return n.DiskMiB, true
	case ResourceGPUs:
		return n.GPUs, true
	}
	return 0, false
}

// MesosNodeShape converts spec.nodeShape to Mesos units. Keys other than cpus, mem, disk and
// gpus are ignored (validation rejects them). An empty nodeShape gives a NodeShape with no
// Specified resource: the whole shape is to be inferred.
func (s *ScalingPolicySpec) MesosNodeShape() NodeShape {
	var n NodeShape
	for _, name := range SupportedResources {
		q, ok := s.NodeShape[name]
		if !ok {
			continue
		}
		n.Specified = append(n.Specified, name)
		switch name {
		case ResourceCPUs:
			n.CPUs = q.AsApproximateFloat64()
		case ResourceMem:
			n.MemMiB = bytesToMiB(q)
		case ResourceDisk:
			n.DiskMiB = bytesToMiB(q)
		case ResourceGPUs:
			n.GPUs = q.AsApproximateFloat64()
		}
	}
	return n
}

func bytesToMiB(q resource.Quantity) float64 { return q.AsApproximateFloat64() / bytesPerMiB }
