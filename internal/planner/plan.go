package planner

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// maxRejectedCandidates bounds how many scale-down candidates are tried after one is refused,
// so a large pool whose cheapest agents cannot move their tasks stays cheap to plan.
const maxRejectedCandidates = 32

// Plan decides the desired node count of the pool for one reconcile, following DESIGN.md §3:
// growth first (pending demand and application headroom by bin-packing, then utilization on top),
// removal only when nothing asks for growth, then the clamp to [min, max]. It is pure: the same
// Input always yields the same Decision. Snapshot must not be nil.
//
// Capacities are in instances, or in capacity units when the group weights its instance types:
// each instance counts its weight, and new nodes count the weight of the type planned with.
func Plan(in Input) Decision {
	cfg := in.Config
	d := Decision{
		Policy:             cfg.Name,
		Time:               in.Now,
		Direction:          NoChange,
		ScaleDownAgents:    []string{},
		ScaleDownInstances: []string{},
		Unschedulable:      []string{},
		Memory:             in.Memory,
	}
	p := buildPool(&in)
	d.PoolAgents = len(p.agents)
	d.UpcomingNodes = p.upcoming
	d.MissingInstances = p.missingIDs
	d.Memory.PoolAgents = len(p.agents)
	d.Units = in.Group != nil && in.Group.Weighted()

	// Capacity units of what is counted now: pool agents and upcoming instances.
	var counted int32
	for _, a := range p.agents {
		counted += instanceWeight(a.instance)
	}
	counted += p.upcomingUnits

	// Bounds: the policy's, intersected with the group's (AWS rejects values outside them).
	lower, upper := cfg.MinNodes, cfg.MaxNodes
	d.CurrentCapacity = counted
	if g := in.Group; g != nil {
		lower = clamp32(lower, g.MinSize, g.MaxSize)
		upper = clamp32(upper, g.MinSize, g.MaxSize)
		d.CurrentCapacity = g.DesiredCapacity
	}
	if lower > upper {
		lower = upper
	}
	d.MinCapacity, d.MaxCapacity = lower, upper

	d.explainPool(in, p)

	// Node shapes: of the type new nodes are planned with, and of each upcoming instance.
	shapes := typeShapes(in, p)
	shape, weight, shapeKnown := d.planShape(in, p, shapes)
	d.NodeShape = shape

	// Utilization.
	var used, total mesos.Resources
	for _, a := range p.agents {
		used = used.Add(a.used)
		total = total.Add(a.usable)
	}
	upcomingBins := make([]bin, 0, p.upcoming)
	for _, t := range p.upcomingTypes {
		s, ok := shapes[t]
		if !ok {
			s = shape
		}
		total = total.Add(s)
		upcomingBins = append(upcomingBins, bin{free: s, attrs: templateAttrs(cfg, p)})
	}
	for _, r := range cfg.Resources {
		d.Utilization = append(d.Utilization, Utilization{
			Resource: r, Used: round(used.Get(r)), Total: round(total.Get(r)),
			Percent: round(percent(used.Get(r), total.Get(r))),
		})
	}
	if len(p.agents) == 0 && p.upcoming == 0 {
		d.add(ReasonNoPoolAgents, "no registered agent belongs to this pool (selector %s)", formatSelector(cfg.AgentSelector))
	}

	// Growth: pending copies, then headroom copies, packed into free space, upcoming nodes and
	// new nodes of the template shape.
	pending := d.pendingItems(in, p)
	headroom, headroomApps := headroomItems(in, p)
	items := append(append([]item{}, pending...), headroom...)
	template := bin{free: shape, attrs: templateAttrs(cfg, p)}
	bins := append(agentBins(in, p, nil, items), upcomingBins...)
	pr := pack(items, bins, template, shapeKnown)
	d.NodesForDemand = pr.newNodes
	d.noteUnschedulable(pr.unplaced)
	if !shapeKnown && len(pr.unplaced) > 0 {
		d.add(ReasonNodeShapeUnknown, "the pool has no agent to infer a node shape from and spec.nodeShape is not set, so no node can be added for demand")
	}
	if n := countCopies(pending); n > 0 {
		if pr.newNodesPending > 0 {
			d.add(ReasonPendingTasks, "%s in Marathon's queue need %s", plural(n, "pending task copy", "pending task copies"), plural(pr.newNodesPending, "new node", "new nodes"))
		} else {
			d.add(ReasonPendingTasks, "%s in Marathon's queue fit in free capacity", plural(n, "pending task copy", "pending task copies"))
		}
	}
	if cfg.HeadroomPercent > 0 && headroomApps > 0 {
		copies := countCopies(headroom)
		if extra := pr.newNodes - pr.newNodesPending; extra > 0 {
			d.add(ReasonHeadroomShort, "placing %d%% more of %s (%s) needs %s", cfg.HeadroomPercent, plural(headroomApps, "application", "applications"), plural(copies, "copy", "copies"), plural(extra, "new node", "new nodes"))
		} else {
			d.add(ReasonHeadroomMet, "%d%% more of %s (%s) fits in free capacity", cfg.HeadroomPercent, plural(headroomApps, "application", "applications"), plural(copies, "copy", "copies"))
		}
	}

	// Utilization on top, counting the pending copies as used: they will run once placed.
	projected := used
	for _, it := range pending {
		projected = projected.Add(it.res.Scale(float64(it.count)))
	}
	nUtil, utilMsg := utilizationNodes(cfg, projected, total, shape, shapeKnown)
	if nUtil > 0 && len(pending) > 0 {
		utilMsg += fmt.Sprintf(" (counting the %s as used)", plural(countCopies(pending), "pending copy", "pending copies"))
	}
	d.NodesForUtilization = nUtil
	if nUtil > 0 {
		d.Reasons = append(d.Reasons, Reason{ReasonUtilizationHigh, utilMsg})
	}

	n := max(d.NodesForDemand, nUtil)
	if n > 0 && len(p.draining) > 0 {
		// Draining agents are the cheapest capacity: give them back before launching.
		k := min(n, len(p.draining))
		d.UndrainAgents = append([]string{}, p.draining[:k]...)
		d.add(ReasonUndrain, "growth is needed: %s given back to Mesos instead of launching (%s)",
			plural(k, "draining agent is", "draining agents are"), strings.Join(firstN(d.UndrainAgents, 5), ", "))
		n -= k
		d.Memory.ScaleDownSince = timeZero
		if n == 0 {
			d.DesiredCapacity = d.CurrentCapacity
			return d
		}
	}
	if n > 0 {
		d.Memory.ScaleDownSince = timeZero
		if d.scaleUpHeld(in, p, n) {
			d.DesiredCapacity = d.CurrentCapacity
			return d
		}
		if cfg.ScaleUpMaxStep > 0 && n > int(cfg.ScaleUpMaxStep) {
			d.add(ReasonScaleUpStepLimited, "%s needed; adding %d this step (spec.scaleUp.maxNodesPerStep)", plural(n, "new node is", "new nodes are"), cfg.ScaleUpMaxStep)
			n = int(cfg.ScaleUpMaxStep)
		}
		target := counted + int32(n)*weight
		if target > upper {
			unmet := int(target - upper)
			d.add(ReasonScalingLimited, "%d %s are needed but the maximum is %d; %s of demand %s not met", target, d.unit(), upper,
				plural(unmet, strings.TrimSuffix(d.unit(), "s"), d.unit()), map[bool]string{true: "is", false: "are"}[unmet == 1])
			target = upper
		}
		if target < lower {
			target = lower
		}
		return d.grow(in, target)
	}
	d.noteRecovery(in, p)

	// Bounds come before any removal.
	if d.CurrentCapacity < lower {
		d.add(ReasonBelowMinimum, "%d %s below the minimum %d", d.CurrentCapacity, d.unit(), lower)
		d.Memory.ScaleDownSince = timeZero
		return d.grow(in, lower)
	}

	// Shrink: only when nothing asks for growth.
	d.DesiredCapacity = d.CurrentCapacity
	d.planScaleDown(in, p, used, total, headroom, pending, counted, lower, upper)
	if d.Direction == NoChange && d.NodesForDemand == 0 && nUtil == 0 && !d.hasReason(ReasonUtilizationLow) {
		d.add(ReasonUtilizationNormal, "utilization %s: none above the scale-up threshold %d%%, not all below the scale-down threshold %d%%", formatUtil(d.Utilization), cfg.ScaleUpPercent, cfg.ScaleDownPercent)
	}
	return d
}

// unit names the capacity unit of the decision's numbers.
func (d *Decision) unit() string {
	if d.Units {
		return "capacity units"
	}
	return "nodes"
}

// explainPool adds the reasons about how agents matched instances.
func (d *Decision) explainPool(in Input, p pool) {
	if p.matched && p.unmatched > 0 {
		d.add(ReasonUnmatchedAgents, "%s to no instance of group %s and %s not counted", plural(p.unmatched, "selected agent belongs", "selected agents belong"), in.Group.Name, map[bool]string{true: "is", false: "are"}[p.unmatched == 1])
	}
	if p.unselected > 0 {
		d.add(ReasonSelectorMismatch, "%s of group %s %s agents that spec.mesos.agentSelector (%s) does not select; check the selector", plural(p.unselected, "instance", "instances"), in.Group.Name, map[bool]string{true: "runs", false: "run"}[p.unselected == 1], formatSelector(in.Config.AgentSelector))
	}
	if in.Group != nil && !p.matched {
		d.add(ReasonAgentsNotMatched, "instance addresses are unknown, so agents were not matched to instances; instances beyond the %d selected agents count as upcoming", len(p.agents)+p.notCounted)
	}
	if p.upcoming > 0 {
		msg := fmt.Sprintf("%s as upcoming capacity", plural(p.upcoming, "launched instance has not registered as an agent yet and counts", "launched instances have not registered as agents yet and count"))
		if len(p.upcomingIDs) > 0 {
			msg += " (" + strings.Join(firstN(p.upcomingIDs, 5), ", ") + ")"
		}
		d.Reasons = append(d.Reasons, Reason{ReasonUpcomingCapacity, msg})
	}
	if len(p.missingIDs) > 0 {
		d.add(ReasonInstancesNotRegistered, "%s not registered as agents within %s and no longer count: %s",
			plural(len(p.missingIDs), "instance has", "instances have"), in.Config.RegistrationTimeout, strings.Join(firstN(p.missingIDs, 5), ", "))
	}
	if len(p.leaving) > 0 {
		d.add(ReasonInstancesLeaving, "%s in a lifecycle state that is not capacity (terminating, detaching, standby): %s",
			plural(len(p.leaving), "instance is", "instances are"), strings.Join(firstN(p.leaving, 5), ", "))
	}
}

// scaleUpHeld reports (and explains) whether growth must wait: cooldown, or back-off after
// launches that failed or never registered. It updates the back-off memory.
func (d *Decision) scaleUpHeld(in Input, p pool, n int) bool {
	cfg := in.Config
	if cfg.ScaleUpCooldown > 0 && !in.Memory.LastScaleUp.IsZero() && in.Now.Before(in.Memory.LastScaleUp.Add(cfg.ScaleUpCooldown)) {
		d.add(ReasonScaleUpCooldown, "%s needed, but the last scale-up at %s is within the %s cooldown", plural(n, "new node is", "new nodes are"), in.Memory.LastScaleUp.UTC().Format("15:04:05"), cfg.ScaleUpCooldown)
		return true
	}
	failed := ""
	if len(in.FailedLaunches) > 0 {
		a := in.FailedLaunches[0]
		failed = fmt.Sprintf("launching instances %s: %s", strings.ToLower(a.StatusCode), firstLine(a.StatusMessage))
		d.add(ReasonScaleUpFailed, "%s", failed)
	} else if len(p.missingIDs) > 0 {
		failed = "instances did not register as agents"
	}
	if failed == "" {
		return false
	}
	if in.Now.Before(in.Memory.ScaleUpBackoffUntil) {
		d.add(ReasonScaleUpBackoff, "%s needed; growth waits until %s after %s (%s)", plural(n, "new node is", "new nodes are"),
			in.Memory.ScaleUpBackoffUntil.UTC().Format("15:04:05"), plural(in.Memory.ScaleUpFailures, "failed scale-up", "failed scale-ups"), failed)
		return true
	}
	// The back-off has passed (or starts now): try once, and double the wait for next time.
	d.Memory.ScaleUpFailures = in.Memory.ScaleUpFailures + 1
	d.Memory.ScaleUpBackoffUntil = in.Now.Add(scaleUpBackoff(d.Memory.ScaleUpFailures))
	if in.Memory.ScaleUpFailures == 0 {
		// First sight of the failure: do not add more right away; the next try is after the wait.
		d.add(ReasonScaleUpBackoff, "%s needed; growth waits until %s (%s)", plural(n, "new node is", "new nodes are"),
			d.Memory.ScaleUpBackoffUntil.UTC().Format("15:04:05"), failed)
		return true
	}
	return false
}

// noteRecovery clears the scale-up back-off once nothing is failing.
func (d *Decision) noteRecovery(in Input, p pool) {
	if len(in.FailedLaunches) == 0 && len(p.missingIDs) == 0 && p.upcoming == 0 {
		d.Memory.ScaleUpFailures = 0
		d.Memory.ScaleUpBackoffUntil = timeZero
	}
}

// scaleUpBackoff is the wait after the n-th consecutive failed scale-up: 1 minute doubling, at
// most 30 minutes.
func scaleUpBackoff(n int) time.Duration {
	d := time.Minute << min(n-1, 5)
	return min(d, 30*time.Minute)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// grow finishes a growth decision towards target nodes.
func (d *Decision) grow(in Input, target int32) Decision {
	if target <= d.CurrentCapacity {
		if target < d.CurrentCapacity || in.Group != nil {
			d.add(ReasonAlreadyScaling, "the group's desired capacity %d already covers the %d nodes needed", d.CurrentCapacity, target)
		}
		d.DesiredCapacity = d.CurrentCapacity
		return *d
	}
	d.DesiredCapacity = target
	d.Direction = ScaleUp
	d.Memory.LastScaleUp = in.Now
	return *d
}

// planScaleDown chooses the agents to remove, one at a time, cheapest first (DESIGN.md §3).
// Limits are in capacity units (instances when unweighted).
func (d *Decision) planScaleDown(in Input, p pool, used, total mesos.Resources, headroom, pending []item, counted, lower, upper int32) {
	cfg := in.Config
	clearMemory := func() { d.Memory.ScaleDownSince = timeZero }

	if counted > upper {
		// Above the maximum: remove the cheapest agents down to it, thresholds aside.
		victims, instances, units := d.chooseVictims(in, p, used, total, headroom, pending, counted-upper, false)
		if len(victims) > 0 {
			d.add(ReasonAboveMaximum, "%d %s above the maximum %d", counted, d.unit(), upper)
			d.Direction = ScaleDown
			d.ScaleDownAgents, d.ScaleDownInstances = victims, instances
			d.DesiredCapacity = d.CurrentCapacity - units
		}
		return
	}
	for _, r := range cfg.Resources {
		if percent(used.Get(r), total.Get(r)) >= float64(cfg.ScaleDownPercent) {
			clearMemory()
			return
		}
	}
	if len(p.agents) == 0 {
		clearMemory()
		return
	}
	d.add(ReasonUtilizationLow, "utilization %s is below the scale-down threshold %d%%", formatUtil(d.Utilization), cfg.ScaleDownPercent)
	if blocked := d.scaleDownBrake(in, p, counted, lower); blocked {
		clearMemory()
		return
	}
	limit := counted - lower
	if cfg.ScaleDownMaxStep > 0 && len(p.draining) >= int(cfg.ScaleDownMaxStep) {
		d.add(ReasonDrainBudget, "%s already draining, the most spec.scaleDown.maxNodesPerStep (%d) allows at once",
			plural(len(p.draining), "agent is", "agents are"), cfg.ScaleDownMaxStep)
		return
	}
	victims, instances, units := d.chooseVictims(in, p, used, total, headroom, pending, limit, true)
	if len(victims) == 0 {
		d.add(ReasonScaleDownBlocked, "no agent can be removed without pushing utilization above %d%% or leaving tasks and headroom copies without room", cfg.ScaleUpPercent)
		clearMemory()
		return
	}
	since := in.Memory.ScaleDownSince
	if since.IsZero() {
		since = in.Now
	}
	d.Memory.ScaleDownSince = since
	if held := in.Now.Sub(since); held < cfg.ScaleDownStabilization {
		d.add(ReasonScaleDownStabilizing, "removing %s (%s) is recommended since %s; acting once it has held for %s (%s left)",
			plural(len(victims), "agent", "agents"), strings.Join(firstN(victims, 5), ", "), since.UTC().Format("2006-01-02T15:04:05Z"), cfg.ScaleDownStabilization, cfg.ScaleDownStabilization-held)
		return
	}
	d.Direction = ScaleDown
	d.ScaleDownAgents, d.ScaleDownInstances = victims, instances
	d.DesiredCapacity = d.CurrentCapacity - units
	if cfg.ScaleDownMaxStep > 0 && len(victims) == int(cfg.ScaleDownMaxStep) && limit > units {
		d.add(ReasonScaleDownStepLimited, "removing at most %s this step (spec.scaleDown.maxNodesPerStep)", plural(int(cfg.ScaleDownMaxStep), "agent", "agents"))
	}
}

// scaleDownBrake reports (and explains) whether removal must not be considered now.
func (d *Decision) scaleDownBrake(in Input, p pool, counted, lower int32) bool {
	cfg := in.Config
	switch {
	case !cfg.ScaleDownEnabled:
		d.add(ReasonScaleDownDisabled, "spec.scaleDown.policy is Disabled")
	case p.upcoming > 0:
		d.add(ReasonScaleDownBlocked, "%s still booting; no node is removed until %s", plural(p.upcoming, "instance is", "instances are"), map[bool]string{true: "it registers", false: "they register"}[p.upcoming == 1])
	case p.matched && p.instances > 0 && 100*(p.instances-p.registered) > int(cfg.MaxUnregisteredPercent)*p.instances:
		d.add(ReasonScaleDownBlocked, "%d of the group's %d instances are not registered agents (more than spec.scaleDown.maxUnregisteredPercent %d%%): a Mesos or network problem is likelier than idle capacity",
			p.instances-p.registered, p.instances, cfg.MaxUnregisteredPercent)
	case in.Memory.PoolAgents > 0 && 10*len(p.agents) < 7*in.Memory.PoolAgents:
		d.add(ReasonAgentsLost, "the pool had %d agents at the previous reconcile and has %d now; no node is removed while the Mesos view is in doubt", in.Memory.PoolAgents, len(p.agents))
	case counted <= lower:
		d.add(ReasonScaleDownBlocked, "the pool is at its minimum of %d %s", lower, d.unit())
	default:
		return false
	}
	return true
}

// chooseVictims picks agents to remove, at most limit capacity units and
// spec.scaleDown.maxNodesPerStep agents, cheapest first: fewest tasks, then lowest dominant
// use, then id. With thresholds, a removal is accepted only if before it every counted
// resource is below the scale-down threshold and after it every one stays at or below the
// scale-up threshold; always, the removed agents' tasks (cumulatively) plus the pending and
// headroom copies must still fit in the remaining free capacity. It returns the agent ids,
// their instance ids and the capacity units removed.
func (d *Decision) chooseVictims(in Input, p pool, used, total mesos.Resources, headroom, pending []item, limit int32, thresholds bool) (victims, instances []string, units int32) {
	cfg := in.Config
	protectedOn := protectedTasks(in, p)
	cands := make([]int, 0, len(p.agents))
	for i, a := range p.agents {
		if a.agent.UnreachableTaskCount > 0 || (cfg.ScaleDownIdleOnly && a.agent.TaskCount > 0) {
			continue
		}
		if inst := a.instance; inst != nil {
			if !inst.IsInService() || inst.ProtectedFromScaleIn || (inst.HealthStatus != "" && inst.HealthStatus != "Healthy") {
				continue
			}
		}
		cands = append(cands, i)
	}
	// Prefer victims in the zones with the most instances, so the group stays balanced.
	perZone := map[string]int{}
	for _, a := range p.agents {
		if a.instance != nil {
			perZone[a.instance.AvailabilityZone]++
		}
	}
	zoneLoad := func(a poolAgent) int {
		if a.instance == nil {
			return 0
		}
		return perZone[a.instance.AvailabilityZone]
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := p.agents[cands[i]], p.agents[cands[j]]
		if a.agent.TaskCount != b.agent.TaskCount {
			return a.agent.TaskCount < b.agent.TaskCount
		}
		if za, zb := zoneLoad(a), zoneLoad(b); za != zb {
			return za > zb
		}
		da, db := dominantShare(a.used, a.usable), dominantShare(b.used, b.usable)
		if da != db {
			return da < db
		}
		return a.agent.ID < b.agent.ID
	})
	budget := -1 // agents that may start draining now; -1: unlimited
	if cfg.ScaleDownMaxStep > 0 {
		budget = max(0, int(cfg.ScaleDownMaxStep)-len(p.draining))
	}

	template := bin{free: d.NodeShape, attrs: templateAttrs(cfg, p)}
	tasksOf := tasksByAgent(in.Snapshot)
	removed := map[int]bool{}
	var moved []item // the tasks of the accepted victims, in the order they were chosen
	rejected := 0
	for _, ci := range cands {
		if (budget >= 0 && len(victims) >= budget) || rejected >= maxRejectedCandidates {
			break
		}
		a := p.agents[ci]
		if apps := protectedOn[a.index]; len(apps) > 0 && !runsElsewhere(in, p, apps, a.index, removed) {
			rejected++
			continue
		}
		w := instanceWeight(a.instance)
		if units+w > limit {
			rejected++
			continue
		}
		// The removed agent's tasks move to the others: use stays, capacity shrinks.
		afterTotal := total.Sub(a.usable)
		if thresholds {
			below := true
			for _, r := range cfg.Resources {
				if percent(used.Get(r), total.Get(r)) >= float64(cfg.ScaleDownPercent) {
					below = false
				}
			}
			if !below {
				break
			}
			ok := true
			for _, r := range cfg.Resources {
				if afterTotal.Get(r) <= mesos.Epsilon || percent(used.Get(r), afterTotal.Get(r)) > float64(cfg.ScaleUpPercent)+mesos.Epsilon {
					ok = false
				}
			}
			if !ok {
				rejected++
				continue
			}
		}
		removed[ci] = true
		mine := movedItems(in, tasksOf[a.index])
		items := append(append(append(append([]item{}, pending...), headroom...), moved...), mine...)
		if r := pack(items, agentBins(in, p, removed, items), template, false); len(r.unplaced) > 0 {
			delete(removed, ci)
			rejected++
			continue
		}
		moved = append(moved, mine...)
		total = afterTotal
		units += w
		victims = append(victims, a.agent.ID)
		inst := ""
		if a.instance != nil {
			inst = a.instance.ID
		}
		instances = append(instances, inst)
	}
	return victims, instances, units
}

// utilizationNodes returns the smallest n ≥ 0 with used_r / (total_r + n·shape_r) ≤ up/100 for
// every counted resource r, and a message explaining the largest need.
func utilizationNodes(cfg Config, used, total, shape mesos.Resources, shapeKnown bool) (int, string) {
	up := float64(cfg.ScaleUpPercent)
	best, msg := 0, ""
	for _, r := range cfg.Resources {
		u, t, s := used.Get(r), total.Get(r), shape.Get(r)
		if u <= mesos.Epsilon || percent(u, t) <= up+mesos.Epsilon {
			continue
		}
		if !shapeKnown || s <= mesos.Epsilon {
			if msg == "" {
				msg = fmt.Sprintf("%s is %.1f%% used, above the scale-up threshold %.0f%%, but the node shape brings no %s", r, percent(u, t), up, r)
			}
			continue
		}
		// n ≥ (100·u − up·t) / (up·s), rounded up; the epsilon absorbs float noise.
		n := int(math.Ceil((100*u-up*t)/(up*s) - 1e-9))
		if n > best {
			best = n
			msg = fmt.Sprintf("%s is %.1f%% used (%s of %s), above the scale-up threshold %.0f%%; %s it to %.1f%%",
				r, percent(u, t), fmtAmount(r, u), fmtAmount(r, t), up, plural(n, "more node brings", "more nodes bring"), percent(u, t+float64(n)*s))
		}
	}
	return best, msg
}

// pendingItems turns Marathon's queue into copies to place. Copies this pool cannot serve
// (an accepted role it does not offer, a constraint that selects another pool) and apps in a
// launch back-off are left out and explained.
func (d *Decision) pendingItems(in Input, p pool) []item {
	var items []item
	var other, delayed []string
	for _, q := range in.Pending {
		if q.Count <= 0 {
			continue
		}
		pl := parsePlacement(q.Constraints)
		switch {
		case !acceptsRole(q.AcceptedResourceRoles, in.Config.Role) || pl.targetsOtherPool(in.Config.AgentSelector):
			other = append(other, q.AppID)
			continue
		case !waitsForCapacity(q):
			delayed = append(delayed, q.AppID)
			continue
		}
		items = append(items, item{app: q.AppID, res: q.Resources, count: q.Count, source: "pending", order: 0, place: placementOrNil(pl)})
	}
	if len(other) > 0 {
		d.add(ReasonNotForThisPool, "queued %s %s for other pools (accepted roles or constraints this pool does not offer): %s",
			plural(len(other), "app", "apps"), map[bool]string{true: "is", false: "are"}[len(other) == 1], strings.Join(firstN(other, 5), ", "))
	}
	if len(delayed) > 0 {
		d.add(ReasonPendingDelayed, "queued %s in Marathon's launch back-off (failing tasks, not a lack of capacity): %s",
			plural(len(delayed), "app is", "apps are"), strings.Join(firstN(delayed, 5), ", "))
	}
	return items
}

func placementOrNil(pl placement) *placement {
	if pl.maxPer == 0 && len(pl.attrs) == 0 {
		return nil
	}
	return &pl
}

// headroomItems returns ceil(X/100·c) copies of every application with c tasks on the pool's
// agents, taken from its largest task shapes first, with its Marathon constraints, and the
// number of applications counted.
func headroomItems(in Input, p pool) ([]item, int) {
	x := int(in.Config.HeadroomPercent)
	if x <= 0 {
		return nil, 0
	}
	inPool := make(map[int32]bool, len(p.agents))
	for _, a := range p.agents {
		inPool[int32(a.index)] = true
	}
	apps := map[string]placement{}
	for _, a := range in.Apps {
		if !acceptsRole(a.AcceptedResourceRoles, in.Config.Role) {
			continue
		}
		apps[a.ID] = parsePlacement(a.Constraints)
	}
	type key struct {
		app   int32
		shape mesos.Resources
	}
	counts := map[key]int{}
	perApp := map[int32]int{}
	for _, t := range in.Snapshot.Tasks {
		if !inPool[t.AgentIndex] || t.AppIndex < 0 || int(t.AppIndex) >= len(in.Snapshot.Applications) {
			continue
		}
		// A task of another role running on that role's reservation does not use, and will
		// not grow into, the policy's capacity.
		if role := in.Snapshot.Applications[t.AppIndex].Role; role != in.Config.Role && role != "*" && role != "" {
			if _, ok := in.Snapshot.Agents[t.AgentIndex].Reserved[role]; ok {
				continue
			}
		}
		counts[key{t.AppIndex, t.Resources}]++
		perApp[t.AppIndex]++
	}
	ids := make([]int32, 0, len(perApp))
	for a := range perApp {
		ids = append(ids, a)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	shapesOf := map[int32][]mesos.Resources{}
	for k := range counts {
		shapesOf[k.app] = append(shapesOf[k.app], k.shape)
	}
	var items []item
	for _, a := range ids {
		c := perApp[a]
		want := (x*c + 99) / 100
		shapes := shapesOf[a]
		sort.Slice(shapes, func(i, j int) bool { return dominantLess(shapes[j], shapes[i]) })
		id := in.Snapshot.Applications[a].ID
		var pl *placement
		if ap, ok := apps[id]; ok {
			pl = placementOrNil(ap)
		}
		for _, s := range shapes {
			if want == 0 {
				break
			}
			k := min(want, counts[key{a, s}])
			items = append(items, item{app: id, res: s, count: k, source: "headroom", order: 1, place: pl})
			want -= k
		}
	}
	return items, len(ids)
}

// tasksByAgent indexes the snapshot's tasks by agent index.
func tasksByAgent(s *mesos.Snapshot) map[int][]int {
	m := map[int][]int{}
	for i, t := range s.Tasks {
		if t.AgentIndex >= 0 {
			m[int(t.AgentIndex)] = append(m[int(t.AgentIndex)], i)
		}
	}
	return m
}

// movedItems returns the tasks of one agent as copies that must find room elsewhere, with
// their Marathon constraints.
func movedItems(in Input, tasks []int) []item {
	s := in.Snapshot
	type key struct {
		app int32
		res mesos.Resources
	}
	counts := map[key]int{}
	var order []key
	for _, ti := range tasks {
		t := s.Tasks[ti]
		k := key{t.AppIndex, t.Resources}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	places := map[string]*placement{}
	for _, a := range in.Apps {
		places[a.ID] = placementOrNil(parsePlacement(a.Constraints))
	}
	items := make([]item, 0, len(order))
	for _, k := range order {
		id := ""
		if k.app >= 0 && int(k.app) < len(s.Applications) {
			id = s.Applications[k.app].ID
		}
		items = append(items, item{app: id, res: k.res, count: counts[k], source: "moved", order: 0, place: places[id]})
	}
	return items
}

// agentBins returns the pool's agents (except removed ones) as bins: their free resources,
// attributes and hostname, and, for the applications limited in tasks per agent among items
// (hostname:UNIQUE, MAX_PER), the tasks of those applications already there.
func agentBins(in Input, p pool, removed map[int]bool, items []item) []bin {
	unique := map[string]bool{} // applications limited in tasks per agent
	for _, it := range items {
		if it.place != nil && it.place.maxPer > 0 {
			unique[it.app] = true
		}
	}
	var present map[int]map[string]int
	if len(unique) > 0 {
		present = map[int]map[string]int{}
		for _, t := range in.Snapshot.Tasks {
			if t.AgentIndex < 0 || t.AppIndex < 0 || int(t.AppIndex) >= len(in.Snapshot.Applications) {
				continue
			}
			if id := in.Snapshot.Applications[t.AppIndex].ID; unique[id] {
				if present[int(t.AgentIndex)] == nil {
					present[int(t.AgentIndex)] = map[string]int{}
				}
				present[int(t.AgentIndex)][id]++
			}
		}
	}
	bins := make([]bin, 0, len(p.agents))
	for i, a := range p.agents {
		if removed[i] {
			continue
		}
		b := bin{free: a.free, attrs: a.agent.Attributes, hostname: a.agent.Hostname}
		if m := present[a.index]; m != nil {
			b.tasks = make(map[string]int, len(m))
			for k, v := range m {
				b.tasks[k] = v
			}
		}
		bins = append(bins, b)
	}
	return bins
}

// templateAttrs returns the attributes a new node of the pool is expected to have: the
// selector's, plus every attribute all pool agents share with the same value.
func templateAttrs(cfg Config, p pool) map[string]string {
	attrs := map[string]string{}
	if len(p.agents) > 0 {
		for k, v := range p.agents[0].agent.Attributes {
			attrs[k] = v
		}
		for _, a := range p.agents[1:] {
			for k, v := range attrs {
				if a.agent.Attributes[k] != v {
					delete(attrs, k)
				}
			}
		}
	}
	for k, v := range cfg.AgentSelector {
		attrs[k] = v
	}
	return attrs
}

func (d *Decision) noteUnschedulable(unplaced []item) {
	seen := map[string]bool{}
	for _, u := range unplaced {
		d.UnschedulableDetails = append(d.UnschedulableDetails, Unschedulable{Application: u.app, Copies: u.count, Resources: u.res, Source: u.source})
		if !seen[u.app] {
			seen[u.app] = true
			d.Unschedulable = append(d.Unschedulable, u.app)
		}
	}
	sort.Strings(d.Unschedulable)
	if len(unplaced) > 0 {
		n := 0
		for _, u := range unplaced {
			n += u.count
		}
		d.add(ReasonUnschedulable, "%d copies of %d applications fit no node of this pool (%s) and add no node", n, len(d.Unschedulable), strings.Join(firstN(d.Unschedulable, 5), ", "))
	}
}

func (d *Decision) add(reason, format string, args ...any) {
	d.Reasons = append(d.Reasons, Reason{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (d *Decision) hasReason(r string) bool {
	for _, x := range d.Reasons {
		if x.Reason == r {
			return true
		}
	}
	return false
}

// protectedTasks returns, per agent index, the protected applications with tasks there.
func protectedTasks(in Input, p pool) map[int][]string {
	if len(in.Config.ProtectedApplications) == 0 {
		return nil
	}
	out := map[int][]string{}
	for _, t := range in.Snapshot.Tasks {
		if t.AppIndex < 0 || int(t.AppIndex) >= len(in.Snapshot.Applications) || t.AgentIndex < 0 {
			continue
		}
		id := in.Snapshot.Applications[t.AppIndex].ID
		if IsProtected(id, in.Config.ProtectedApplications) && !slices.Contains(out[int(t.AgentIndex)], id) {
			out[int(t.AgentIndex)] = append(out[int(t.AgentIndex)], id)
		}
	}
	return out
}

// IsProtected reports whether application id matches one of the protected ids or prefixes
// (an entry ending in "/" or "*" is a prefix).
func IsProtected(id string, protected []string) bool {
	for _, p := range protected {
		switch {
		case strings.HasSuffix(p, "*"):
			if strings.HasPrefix(id, strings.TrimSuffix(p, "*")) {
				return true
			}
		case strings.HasSuffix(p, "/"):
			if strings.HasPrefix(id, p) {
				return true
			}
		case id == p:
			return true
		}
	}
	return false
}

// runsElsewhere reports whether every one of apps has a task on a pool agent other than
// agent and the agents already chosen for removal.
func runsElsewhere(in Input, p pool, apps []string, agent int, removed map[int]bool) bool {
	gone := map[int]bool{agent: true}
	for i := range removed {
		gone[p.agents[i].index] = true
	}
	inPool := map[int]bool{}
	for _, a := range p.agents {
		inPool[a.index] = true
	}
	for _, app := range apps {
		found := false
		for _, t := range in.Snapshot.Tasks {
			ai := int(t.AgentIndex)
			if t.AppIndex >= 0 && int(t.AppIndex) < len(in.Snapshot.Applications) && in.Snapshot.Applications[t.AppIndex].ID == app && inPool[ai] && !gone[ai] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
