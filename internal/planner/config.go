package planner

import (
	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/mesos"
)

// ConfigFromPolicy resolves a validated ScalingPolicy into planner settings (defaults applied).
// Node shape quantities are in Mesos units: cpus in cores, mem and disk in MiB, gpus in devices;
// resources the spec leaves out of nodeShape are inferred from the pool's agents.
func ConfigFromPolicy(p *v1alpha1.ScalingPolicy) Config {
	s := p.Spec.Resolved()
	cfg := Config{
		Name:                   p.Name,
		Role:                   s.Role,
		AgentSelector:          s.MatchAttributes,
		ScaleUpPercent:         s.ScaleUpPercent,
		ScaleDownPercent:       s.ScaleDownPercent,
		HeadroomPercent:        s.ApplicationHeadroomPercent,
		MinNodes:               s.MinNodes,
		MaxNodes:               s.MaxNodes,
		ScaleUpMaxStep:         s.ScaleUpMaxNodesPerStep,
		ScaleUpCooldown:        s.ScaleUpCooldown,
		ScaleDownEnabled:       s.ScaleDownEnabled,
		ScaleDownMaxStep:       s.ScaleDownMaxNodesPerStep,
		ScaleDownStabilization: s.ScaleDownStabilization,
		RegistrationTimeout:    s.RegistrationTimeout,
		MaxUnregisteredPercent: s.MaxUnregisteredPercent,
		InstanceIDAttribute:    s.InstanceIDAttribute,
		ProtectedApplications:  s.ProtectedApplications,
		InstanceOverhead:       mesos.Resources{CPUs: s.InstanceOverheadCPUs, Mem: s.InstanceOverheadMemMiB, Disk: s.InstanceOverheadDiskMiB},
	}
	for _, r := range s.Resources {
		cfg.Resources = append(cfg.Resources, mesos.ResourceName(r))
	}
	if !s.NodeShape.IsEmpty() {
		shape := mesos.Resources{CPUs: s.NodeShape.CPUs, Mem: s.NodeShape.MemMiB, Disk: s.NodeShape.DiskMiB, GPUs: s.NodeShape.GPUs}
		cfg.NodeShape = &shape
		cfg.NodeShapeSpecified = map[mesos.ResourceName]bool{}
		for _, r := range s.NodeShape.Specified {
			cfg.NodeShapeSpecified[mesos.ResourceName(r)] = true
		}
	}
	return cfg
}
