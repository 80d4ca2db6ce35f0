package planner

import (
	"fmt"
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
	// upcoming counts launched instances that have not registered as agents yet and are still
	// within the registration timeout; upcomingIDs are their instance ids (sorted) and
	// upcomingUnits their capacity units.
	upcoming      int
	upcomingIDs   []string
	upcomingUnits int32
	upcomingTypes []string // instance type of each upcoming instance ("" when unknown)
	// missingIDs are InService instances that did not register within the timeout: they do
	// not count.
	missingIDs []string
	// unmatched counts selected, active agents that belong to no instance of the group.
	unmatched int
	// unselected counts the group's instances whose agent the selector leaves out.
	unselected int
	// draining are the pool agents this policy is draining (sorted by agent id).
	draining []string
	// notCounted counts matched agents that are inactive, draining, or on an instance that is
	// leaving the group (Terminating*, Detaching, Standby, ...).
	notCounted int
	// leaving are the instance ids in a state that is not capacity and never will be.
	leaving []string
	// matched is true when agents were matched to instances (by IP or attribute).
	matched bool
	// instances is the number of group members that are or will be capacity (InService and
	// launching), and registered how many of them run a registered agent, for the
	// unregistered brake.
	instances, registered int
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

// instanceWeight is an instance's capacity units (1 for none or an unweighted instance).
func instanceWeight(i *cloud.Instance) int32 {
	if i == nil {
		return 1
	}
	return i.Units()
}

// leavingState reports whether an instance is in a lifecycle state that is not capacity and
// will not become capacity: Terminating*, Detaching, Detached, Standby (and its hooks),
// Warmed:* and any state this planner does not know.
func leavingState(state string) bool {
	switch state {
	case cloud.StatePending, cloud.StatePendingWait, cloud.StatePendingProceed, cloud.StateInService:
		return false
	}
	return true
}

// buildPool selects the pool's agents and computes their capacity for the role.
func buildPool(in *Input) pool {
	snap := in.Snapshot
	cfg := &in.Config
	var p pool

	// Instances by private IP, DNS name or id, when the group and its addresses are known.
	byIP := map[string]*cloud.Instance{}
	byDNS := map[string]*cloud.Instance{}
	byID := map[string]*cloud.Instance{}
	if in.Group != nil {
		for i := range in.Group.Instances {
			inst := &in.Group.Instances[i]
			byID[inst.ID] = inst
			if inst.PrivateIP != "" {
				byIP[inst.PrivateIP] = inst
			}
			if inst.PrivateDNSName != "" {
				byDNS[strings.ToLower(inst.PrivateDNSName)] = inst
			}
		}
	}
	byAttr := cfg.InstanceIDAttribute != "" && in.Group != nil
	p.matched = byAttr || len(byIP) > 0 || len(byDNS) > 0
	instanceOf := func(a *mesos.Agent) *cloud.Instance {
		if byAttr {
			return byID[a.Attributes[cfg.InstanceIDAttribute]]
		}
		if inst := byIP[agentAddress(a)]; inst != nil {
			return inst
		}
		return byDNS[strings.ToLower(a.Hostname)]
	}

	// Choose at most one agent per instance: an agent that re-registered leaves an inactive
	// twin with the same address, and two agents may report the same hostname; prefer the
	// active, most recently registered one.
	chosen := map[*cloud.Instance]int{}
	unselected := map[*cloud.Instance]bool{}
	var candidates []int
	for i := range snap.Agents {
		a := &snap.Agents[i]
		if !selected(a, cfg.AgentSelector) {
			// An agent of this group that the selector leaves out is registered, not
			// upcoming; it is reported, since the selector may be wrong.
			if p.matched {
				if inst := instanceOf(a); inst != nil && a.Active {
					unselected[inst] = true
				}
			}
			continue
		}
		if !p.matched {
			candidates = append(candidates, i)
			continue
		}
		inst := instanceOf(a)
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

	draining := make(map[string]bool, len(in.Draining))
	for _, id := range in.Draining {
		draining[id] = true
	}
	for _, i := range candidates {
		a := &snap.Agents[i]
		if draining[a.ID] {
			p.draining = append(p.draining, a.ID)
			p.notCounted++
			continue
		}
		if inst := instOf[i]; !a.Active || a.Draining || (inst != nil && leavingState(inst.LifecycleState)) {
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

	if in.Group == nil {
		return p
	}
	if !p.matched {
		// Without addresses, instances cannot be told apart: what is launched or in service
		// beyond the registered agents is upcoming.
		launched := 0
		for _, inst := range in.Group.Instances {
			if inst.IsUpcoming() || inst.IsInService() {
				launched++
			} else {
				p.leaving = append(p.leaving, inst.ID)
			}
		}
		p.instances = launched
		if launched > len(candidates) {
			p.upcoming = launched - len(candidates)
			p.upcomingUnits = int32(p.upcoming)
			for k := 0; k < p.upcoming; k++ {
				p.upcomingTypes = append(p.upcomingTypes, "")
			}
		}
		return p
	}
	for i := range in.Group.Instances {
		inst := &in.Group.Instances[i]
		if leavingState(inst.LifecycleState) {
			p.leaving = append(p.leaving, inst.ID)
			continue
		}
		p.instances++
		if _, registered := chosen[inst]; registered {
			p.registered++
			continue
		}
		if unselected[inst] {
			p.unselected++
			p.registered++
			continue
		}
		// Launching, or in service but not registered yet: upcoming until the timeout.
		if cfg.RegistrationTimeout > 0 && !inst.LaunchTime.IsZero() && in.Now.Sub(inst.LaunchTime) > cfg.RegistrationTimeout {
			p.missingIDs = append(p.missingIDs, inst.ID)
			continue
		}
		p.upcoming++
		p.upcomingIDs = append(p.upcomingIDs, inst.ID)
		p.upcomingUnits += instanceWeight(inst)
		p.upcomingTypes = append(p.upcomingTypes, inst.InstanceType)
	}
	sort.Strings(p.upcomingIDs)
	sort.Strings(p.missingIDs)
	sort.Strings(p.leaving)
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

// typeShapes returns the node shape of each instance type the group has or may launch: the
// most common capacity of the registered pool agents of that type, else EC2's figures for the
// type minus the instance overhead.
func typeShapes(in Input, p pool) map[string]mesos.Resources {
	shapes := map[string]mesos.Resources{}
	if in.Group == nil {
		return shapes
	}
	byType := map[string][]poolAgent{}
	for _, a := range p.agents {
		if a.instance != nil && a.instance.InstanceType != "" {
			byType[a.instance.InstanceType] = append(byType[a.instance.InstanceType], a)
		}
	}
	for t, agents := range byType {
		if s, ok := inferShape(agents); ok {
			shapes[t] = s
		}
	}
	for _, t := range launchableTypes(in.Group) {
		if _, ok := shapes[t]; ok {
			continue
		}
		if ec2, ok := in.InstanceTypes[t]; ok {
			shapes[t] = ec2.Sub(in.Config.InstanceOverhead).NonNegative()
		}
	}
	return shapes
}

// launchableTypes returns the instance types the group launches: its mixed instances policy's
// overrides, else the types of its instances, sorted.
func launchableTypes(g *cloud.Group) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range g.InstanceTypes {
		if t.InstanceType != "" && !seen[t.InstanceType] {
			seen[t.InstanceType] = true
			out = append(out, t.InstanceType)
		}
	}
	if len(out) == 0 {
		for _, i := range g.Instances {
			if i.InstanceType != "" && !seen[i.InstanceType] {
				seen[i.InstanceType] = true
				out = append(out, i.InstanceType)
			}
		}
	}
	sort.Strings(out)
	return out
}

// planShape picks the shape new nodes are planned with and its weight: the smallest shape
// among the types the group launches (conservative: AWS may launch any of them), else
// spec.nodeShape, else the pool's most common agent. False when none is known.
func (d *Decision) planShape(in Input, p pool, shapes map[string]mesos.Resources) (mesos.Resources, int32, bool) {
	if in.Group != nil {
		best, bestType := mesos.Resources{}, ""
		for _, t := range launchableTypes(in.Group) {
			s, ok := shapes[t]
			if !ok {
				continue
			}
			if bestType == "" || dominantLess(s, best) {
				best, bestType = s, t
			}
		}
		if bestType != "" {
			w := in.Group.WeightOf(bestType)
			msg := fmt.Sprintf("new nodes planned as %s (%s", bestType, formatRes(best))
			if d.Units {
				msg += fmt.Sprintf(", %s", plural(int(w), "capacity unit", "capacity units"))
			}
			msg += ")"
			if n := len(launchableTypes(in.Group)); n > 1 {
				msg += fmt.Sprintf(", the smallest of the %d types the group launches", n)
			}
			d.add(ReasonNodeShapeFromType, "%s", msg)
			return best, w, true
		}
	}
	shape, inferred, ok := nodeShape(in.Config, p.agents)
	if len(inferred) > 0 {
		d.add(ReasonNodeShapeInferred, "node shape %s; %s taken from the pool's most common agent", formatRes(shape), strings.Join(inferred, ", "))
	}
	return shape, 1, ok
}
