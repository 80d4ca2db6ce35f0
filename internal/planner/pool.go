package planner

import (
	"net"
	"sort"
	"strings"

	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/mesos"
)

// poolAgent is one counted agent with its capacity for the policy's role.
type poolAgent struct {
	index    int // index in Snapshot.Agents
	agent    *mesos.Agent
	instance *cloud.Instance // nil when the group is unknown or has no addresses
	// usable is the agent's capacity for the role: unreserved plus the role's reservation.
	usable mesos.Resources
	// used is the part of usable in use (other roles' use of their reservations excluded).
	used mesos.Resources
	// free is usable - used, never negative.
	free mesos.Resources
}

// pool is the result of matching the snapshot's agents to the group's instances.
type pool struct {
	agents []poolAgent
	// upcoming counts launched instances that have not registered as agents.
	upcoming int
	// upcomingIDs are their instance ids (sorted).
	upcomingIDs []string
	// unmatched counts selected, active agents that belong to no instance of the group.
	unmatched int
	// notCounted counts matched agents that are inactive or draining.
	notCounted int
	// matchedByIP is true when agents were matched to instances by private IP.
	matchedByIP bool
}

// usableFor returns an agent's capacity usable by role: unreserved resources plus, for a role
// other than "*", that role's reservation.
func usableFor(a *mesos.Agent, role string) mesos.Resources {
	u := a.Unreserved
	if role != "*" && role != "" {
		if r, ok := a.Reserved[role]; ok {
			u = u.Add(r)
		}
	}
	return u.NonNegative()
}

// selected reports whether the agent has every attribute of the selector.
func selected(a *mesos.Agent, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := a.Attributes[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// agentAddress returns the IP an agent registered with: from its pid, else its hostname when
// that is an IP address.
func agentAddress(a *mesos.Agent) string {
	if a.IP != "" {
		return a.IP
	}
	if ip := net.ParseIP(a.Hostname); ip != nil {
		return ip.String()
	}
	return ""
}

// buildPool selects the pool's agents and computes their capacity for the role.
func buildPool(in *Input) pool {
	snap := in.Snapshot
	cfg := &in.Config
	var p pool

	// Instances by private IP and DNS name, when the group and its addresses are known.
	byIP := map[string]*cloud.Instance{}
	byDNS := map[string]*cloud.Instance{}
	if in.Group != nil {
		for i := range in.Group.Instances {
			inst := &in.Group.Instances[i]
			if inst.PrivateIP != "" {
				byIP[inst.PrivateIP] = inst
			}
			if inst.PrivateDNSName != "" {
				byDNS[strings.ToLower(inst.PrivateDNSName)] = inst
			}
		}
	}
	p.matchedByIP = len(byIP) > 0 || len(byDNS) > 0

	// Choose at most one agent per instance: an agent that re-registered leaves an inactive
	// twin with the same address; prefer the active, most recently registered one.
	chosen := map[*cloud.Instance]int{}
	var candidates []int
	for i := range snap.Agents {
		a := &snap.Agents[i]
		if !selected(a, cfg.AgentSelector) {
			continue
		}
		if !p.matchedByIP {
			candidates = append(candidates, i)
			continue
		}
		inst := byIP[agentAddress(a)]
		if inst == nil {
			inst = byDNS[strings.ToLower(a.Hostname)]
		}
		if inst == nil {
			if a.Active && !a.Draining {
				p.unmatched++
			}
			continue
		}
		if prev, ok := chosen[inst]; ok {
			pa := &snap.Agents[prev]
			better := (a.Active && !pa.Active) || (a.Active == pa.Active && a.RegisteredTime > pa.RegisteredTime)
			if !better {
				continue
			}
		}
		chosen[inst] = i
	}
	instOf := map[int]*cloud.Instance{}
	for inst, i := range chosen {
		candidates = append(candidates, i)
		instOf[i] = inst
	}
	sort.Ints(candidates)

	// Other roles' use of their reservations on each candidate agent does not count as use of
	// the policy's capacity.
	otherRoleUse := map[int]mesos.Resources{}
	for _, t := range snap.Tasks {
		if t.AgentIndex < 0 || int(t.AgentIndex) >= len(snap.Agents) || t.AppIndex < 0 || int(t.AppIndex) >= len(snap.Applications) {
			continue
		}
		a := &snap.Agents[t.AgentIndex]
		role := snap.Applications[t.AppIndex].Role
		if role == cfg.Role || role == "*" || role == "" {
			continue
		}
		if _, ok := a.Reserved[role]; ok {
			otherRoleUse[int(t.AgentIndex)] = otherRoleUse[int(t.AgentIndex)].Add(t.Resources)
		}
	}

	for _, i := range candidates {
		a := &snap.Agents[i]
		if !a.Active || a.Draining {
			p.notCounted++
			continue
		}
		usable := usableFor(a, cfg.Role)
		other := mesos.Resources{}
		for role, res := range a.Reserved {
			if role == cfg.Role {
				continue
			}
			other = other.Add(res.Min(otherRoleUse[i]))
		}
		used := a.Used.Sub(other).NonNegative().Min(usable)
		p.agents = append(p.agents, poolAgent{
			index: i, agent: a, instance: instOf[i],
			usable: usable, used: used, free: usable.Sub(used).NonNegative(),
		})
	}

	if in.Group != nil {
		if p.matchedByIP {
			for i := range in.Group.Instances {
				inst := &in.Group.Instances[i]
				_, registered := chosen[inst]
				if inst.IsUpcoming() || (inst.IsInService() && !registered) {
					p.upcoming++
					p.upcomingIDs = append(p.upcomingIDs, inst.ID)
				}
			}
		} else {
			// Without addresses, instances cannot be told apart: what is launched or in
			// service beyond the registered agents is upcoming.
			launched := 0
			for _, inst := range in.Group.Instances {
				if inst.IsUpcoming() || inst.IsInService() {
					launched++
				}
			}
			if launched > len(candidates) {
				p.upcoming = launched - len(candidates)
			}
		}
		sort.Strings(p.upcomingIDs)
	}
	return p
}

// inferShape returns the most common capacity among the pool's agents (ties: the smallest), or
// false when the pool has no agents.
func inferShape(agents []poolAgent) (mesos.Resources, bool) {
	counts := map[mesos.Resources]int{}
	for _, a := range agents {
		if a.usable.CPUs <= mesos.Epsilon && a.usable.Mem <= mesos.Epsilon {
			continue // all reserved to other roles: says nothing about a new node
		}
		counts[a.usable]++
	}
	var best mesos.Resources
	bestN := 0
	for shape, n := range counts {
		if n > bestN || (n == bestN && dominantLess(shape, best)) {
			best, bestN = shape, n
		}
	}
	return best, bestN > 0
}

// dominantLess orders shapes by cpus, then mem, disk, gpus.
func dominantLess(a, b mesos.Resources) bool {
	if a.CPUs != b.CPUs {
		return a.CPUs < b.CPUs
	}
	if a.Mem != b.Mem {
		return a.Mem < b.Mem
	}
	if a.Disk != b.Disk {
		return a.Disk < b.Disk
	}
	return a.GPUs < b.GPUs
}

// nodeShape returns the shape of one new node: the policy's, with the resources it leaves out
// taken from the pool's most common agent, and the names of the resources so taken (those
// with a non-zero amount). False when nothing is known to build a node from.
func nodeShape(cfg Config, agents []poolAgent) (mesos.Resources, []string, bool) {
	if cfg.NodeShape != nil && cfg.NodeShapeSpecified == nil {
		return *cfg.NodeShape, nil, true
	}
	inferred, ok := inferShape(agents)
	shape := inferred
	if cfg.NodeShape != nil {
		shape = *cfg.NodeShape
	}
	var from []string
	for _, r := range mesos.AllResources {
		if cfg.NodeShape != nil && cfg.NodeShapeSpecified[r] {
			continue
		}
		shape.Set(r, inferred.Get(r))
		if inferred.Get(r) > 0 {
			from = append(from, string(r))
		}
	}
	return shape, from, ok || len(cfg.NodeShapeSpecified) > 0
}
