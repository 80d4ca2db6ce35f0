package fakemesos

import (
	"maps"
	"strings"

	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
)

// FromFakeAWS returns a machine source over the members of the named groups of s (every group,
// read on each call, when none is named). An instance is in service while its lifecycle state
// is InService; Terminating and Pending ones are not, so an agent vanishes as soon as its
// instance starts terminating. Agents register with their private IP as hostname, as DC/OS
// agents do.
func FromFakeAWS(s *fakeaws.Server, groups ...string) func() []Machine {
	return func() []Machine {
		names := groups
		if len(names) == 0 {
			names = s.GroupNames()
		}
		var out []Machine
		for _, g := range names {
			for _, in := range s.Instances(g) {
				out = append(out, Machine{
					InstanceID:     in.ID,
					Group:          in.Group,
					PrivateIP:      in.PrivateIP,
					Hostname:       in.PrivateIP,
					InstanceType:   in.InstanceType,
					InService:      in.LifecycleState == fakeaws.StateInService,
					InServiceSince: in.InServiceSince,
				})
			}
		}
		return out
	}
}

// DefaultAttributes gives an agent the attribute "pool": the part of its group name after the
// last "-" ("mesos-agents-gpu" → "gpu"), or the whole name when it has no "-" or ends with one.
func DefaultAttributes(m Machine) map[string]string {
	pool := m.Group
	if i := strings.LastIndexByte(pool, '-'); i >= 0 && i < len(pool)-1 {
		pool = pool[i+1:]
	}
	return map[string]string{"pool": pool}
}

// GroupAttributes returns an Options.Attributes function that gives the agents of each group
// listed in byGroup those attributes, and DefaultAttributes to the others.
func GroupAttributes(byGroup map[string]map[string]string) func(Machine) map[string]string {
	byGroup = maps.Clone(byGroup)
	return func(m Machine) map[string]string {
		if attrs, ok := byGroup[m.Group]; ok {
			return maps.Clone(attrs)
		}
		return DefaultAttributes(m)
	}
}
