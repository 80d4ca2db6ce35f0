package planner

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// maxRejectedCandidates bounds how many scale-down candidates are tried after one is refused,
// so a large pool whose cheapest agents cannot move their tasks stays cheap to plan.
const maxRejectedCandidates = 32

// Plan decides the desired node count of the pool for one reconcile, following DESIGN.md §3:
// growth first (pending demand and application headroom by bin-packing, then utilization on top),
// removal only when nothing asks for growth, then the clamp to [min, max]. It is pure: the same
// Input always yields the same Decision. Snapshot must not be nil.
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
	counted := int32(len(p.agents) + p.upcoming)

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

	if p.matchedByIP && p.unmatched > 0 {
		d.add(ReasonUnmatchedAgents, "%d selected agents belong to no instance of group %s and are not counted", p.unmatched, in.Group.Name)
	}
	if in.Group != nil && !p.matchedByIP {
		d.add(ReasonAgentsNotMatched, "instance addresses are unknown, so agents were not matched to instances; instances beyond the %d selected agents count as upcoming", len(p.agents)+p.notCounted)
	}
	if p.upcoming > 0 {
		msg := fmt.Sprintf("%s as upcoming capacity", plural(p.upcoming, "launched instance has not registered as an agent yet and counts", "launched instances have not registered as agents yet and count"))
		if len(p.upcomingIDs) > 0 {
			msg += " (" + strings.Join(firstN(p.upcomingIDs, 5), ", ") + ")"
		}
		d.Reasons = append(d.Reasons, Reason{ReasonUpcomingCapacity, msg})
	}

	// Node shape: the policy's, else the most common agent capacity.
	shape, inferred, shapeKnown := nodeShape(cfg, p.agents)
	if len(inferred) > 0 {
		d.add(ReasonNodeShapeInferred, "node shape %s; %s taken from the pool's most common agent", formatRes(shape), strings.Join(inferred, ", "))
	}
	d.NodeShape = shape

	// Utilization.
	var used, total mesos.Resources
	for _, a := range p.agents {
		used = used.Add(a.used)
		total = total.Add(a.usable)
	}
	total = total.Add(shape.Scale(float64(p.upcoming)))
	for _, r := range cfg.Resources {
		d.Utilization = append(d.Utilization, Utilization{
			Resource: r, Used: round(used.Get(r)), Total: round(total.Get(r)),
			Percent: round(percent(used.Get(r), total.Get(r))),
		})
	}

	if len(p.agents) == 0 && p.upcoming == 0 {
		d.add(ReasonNoPoolAgents, "no registered agent belongs to this pool (selector %v)", cfg.AgentSelector)
	}

	// Growth: pending copies, then headroom copies, packed into free space, upcoming nodes and
	// new nodes of the template shape.
	pending := pendingItems(in)
	headroom, headroomApps := headroomItems(in, p)
	items := append(append([]item{}, pending...), headroom...)
	bins := freeBins(p, shape, nil)
	pr := pack(items, bins, shape, shapeKnown)
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

	nUtil, utilMsg := utilizationNodes(cfg, used, total, shape, shapeKnown)
	d.NodesForUtilization = nUtil
	if nUtil > 0 {
		d.Reasons = append(d.Reasons, Reason{ReasonUtilizationHigh, utilMsg})
	}

	n := max(d.NodesForDemand, nUtil)
	if n > 0 {
		d.Memory.ScaleDownSince = timeZero
		if cfg.ScaleUpCooldown > 0 && !in.Memory.LastScaleUp.IsZero() && in.Now.Before(in.Memory.LastScaleUp.Add(cfg.ScaleUpCooldown)) {
			d.add(ReasonScaleUpCooldown, "%s needed, but the last scale-up at %s is within the %s cooldown", plural(n, "new node is", "new nodes are"), in.Memory.LastScaleUp.UTC().Format("15:04:05"), cfg.ScaleUpCooldown)
			d.DesiredCapacity = d.CurrentCapacity
			return d
		}
		if cfg.ScaleUpMaxStep > 0 && n > int(cfg.ScaleUpMaxStep) {
			d.add(ReasonScaleUpStepLimited, "%s needed; adding %d this step (spec.scaleUp.maxNodesPerStep)", plural(n, "new node is", "new nodes are"), cfg.ScaleUpMaxStep)
			n = int(cfg.ScaleUpMaxStep)
		}
		target := counted + int32(n)
		if target > upper {
			d.add(ReasonScalingLimited, "%d nodes are needed but the maximum is %d; %d nodes of demand are not met", target, upper, target-upper)
			target = upper
		}
		if target < lower {
			target = lower
		}
		return d.grow(in, target)
	}

	// Bounds come before any removal.
	if d.CurrentCapacity < lower {
		d.add(ReasonBelowMinimum, "%d nodes are below the minimum %d", d.CurrentCapacity, lower)
		d.Memory.ScaleDownSince = timeZero
		return d.grow(in, lower)
	}

	// Shrink: only when nothing asks for growth.
	d.DesiredCapacity = d.CurrentCapacity
	d.planScaleDown(in, p, used, total, headroom, pending, counted, lower, upper)
	if d.Direction == NoChange && d.NodesForDemand == 0 && nUtil == 0 && !d.hasReason(ReasonUtilizationLow) {
		d.add(ReasonUtilizationNormal, "utilization %s is between the thresholds (%d%%-%d%%)", formatUtil(d.Utilization), cfg.ScaleDownPercent, cfg.ScaleUpPercent)
	}
	return d
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
func (d *Decision) planScaleDown(in Input, p pool, used, total mesos.Resources, headroom, pending []item, counted, lower, upper int32) {
	cfg := in.Config
	clearMemory := func() { d.Memory.ScaleDownSince = timeZero }

	if counted > upper {
		// Above the maximum: remove the cheapest agents down to it, thresholds aside.
		victims, instances := d.chooseVictims(in, p, used, total, headroom, pending, int(counted-upper), false)
		if len(victims) > 0 {
			d.add(ReasonAboveMaximum, "%d nodes are above the maximum %d", counted, upper)
			d.Direction = ScaleDown
			d.ScaleDownAgents, d.ScaleDownInstances = victims, instances
			d.DesiredCapacity = d.CurrentCapacity - int32(len(victims))
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
	if !cfg.ScaleDownEnabled {
		d.add(ReasonScaleDownDisabled, "spec.scaleDown.policy is Disabled")
		clearMemory()
		return
	}
	if p.upcoming > 0 {
		d.add(ReasonScaleDownBlocked, "%d instances are still booting; no node is removed until they register", p.upcoming)
		clearMemory()
		return
	}
	limit := int(counted - lower)
	if limit <= 0 {
		d.add(ReasonScaleDownBlocked, "the pool is at its minimum of %d nodes", lower)
		clearMemory()
		return
	}
	if cfg.ScaleDownMaxStep > 0 && int(cfg.ScaleDownMaxStep) < limit {
		limit = int(cfg.ScaleDownMaxStep)
	}
	victims, instances := d.chooseVictims(in, p, used, total, headroom, pending, limit, true)
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
		d.add(ReasonScaleDownStabilizing, "removing %d agents (%s) is recommended since %s; acting once it has held for %s (%s left)",
			len(victims), strings.Join(firstN(victims, 5), ", "), since.UTC().Format("2006-01-02T15:04:05Z"), cfg.ScaleDownStabilization, cfg.ScaleDownStabilization-held)
		return
	}
	d.Direction = ScaleDown
	d.ScaleDownAgents, d.ScaleDownInstances = victims, instances
	d.DesiredCapacity = d.CurrentCapacity - int32(len(victims))
	if cfg.ScaleDownMaxStep > 0 && len(victims) == int(cfg.ScaleDownMaxStep) && int(counted-lower) > len(victims) {
		d.add(ReasonScaleDownStepLimited, "removing at most %d agents this step (spec.scaleDown.maxNodesPerStep)", cfg.ScaleDownMaxStep)
	}
}

// chooseVictims picks up to limit agents to remove, cheapest first: fewest tasks, then lowest
// dominant use, then id. With thresholds, a removal is accepted only if before it every counted
// resource is below the scale-down threshold and after it every one stays at or below the
// scale-up threshold; always, the removed agents' tasks (cumulatively) plus the pending and
// headroom copies must still fit in the remaining free capacity.
func (d *Decision) chooseVictims(in Input, p pool, used, total mesos.Resources, headroom, pending []item, limit int, thresholds bool) (victims, instances []string) {
	cfg := in.Config
	shape := d.NodeShape
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
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := p.agents[cands[i]], p.agents[cands[j]]
		if a.agent.TaskCount != b.agent.TaskCount {
			return a.agent.TaskCount < b.agent.TaskCount
		}
		da, db := dominantShare(a.used, a.usable), dominantShare(b.used, b.usable)
		if da != db {
			return da < db
		}
		return a.agent.ID < b.agent.ID
	})

	tasksOf := tasksByAgent(in.Snapshot)
	removed := map[int]bool{}
	var moved []item // the tasks of the accepted victims, in the order they were chosen
	rejected := 0
	for _, ci := range cands {
		if len(victims) >= limit || rejected >= maxRejectedCandidates {
			break
		}
		a := p.agents[ci]
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
		mine := movedItems(in.Snapshot, tasksOf[a.index])
		items := append(append(append(append([]item{}, pending...), headroom...), moved...), mine...)
		if r := pack(items, freeBins(p, shape, removed), shape, false); len(r.unplaced) > 0 {
			delete(removed, ci)
			rejected++
			continue
		}
		moved = append(moved, mine...)
		total = afterTotal
		victims = append(victims, a.agent.ID)
		inst := ""
		if a.instance != nil {
			inst = a.instance.ID
		}
		instances = append(instances, inst)
	}
	return victims, instances
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
			msg = fmt.Sprintf("%s is %.1f%% used (%s of %s), above the scale-up threshold %.0f%%; %s bring it to %.1f%%",
				r, percent(u, t), fmtAmount(r, u), fmtAmount(r, t), up, plural(n, "more node", "more nodes"), percent(u, t+float64(n)*s))
		}
	}
	return best, msg
}

// pendingItems turns Marathon's queue into copies to place.
func pendingItems(in Input) []item {
	var items []item
	for _, q := range in.Pending {
		if q.Count <= 0 {
			continue
		}
		items = append(items, item{app: q.AppID, res: q.Resources, count: q.Count, source: "pending", order: 0})
	}
	return items
}

// headroomItems returns ceil(X/100·c) copies of every application with c tasks on the pool's
// agents, taken from its largest task shapes first, and the number of applications counted.
func headroomItems(in Input, p pool) ([]item, int) {
	x := int(in.Config.HeadroomPercent)
	if x <= 0 {
		return nil, 0
	}
	inPool := make(map[int32]bool, len(p.agents))
	for _, a := range p.agents {
		inPool[int32(a.index)] = true
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
	apps := make([]int32, 0, len(perApp))
	for a := range perApp {
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i] < apps[j] })
	shapesOf := map[int32][]mesos.Resources{}
	for k := range counts {
		shapesOf[k.app] = append(shapesOf[k.app], k.shape)
	}
	var items []item
	for _, a := range apps {
		c := perApp[a]
		want := (x*c + 99) / 100
		shapes := shapesOf[a]
		sort.Slice(shapes, func(i, j int) bool { return dominantLess(shapes[j], shapes[i]) })
		id := in.Snapshot.Applications[a].ID
		for _, s := range shapes {
			if want == 0 {
				break
			}
			k := min(want, counts[key{a, s}])
			items = append(items, item{app: id, res: s, count: k, source: "headroom", order: 1})
			want -= k
		}
	}
	return items, len(apps)
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

// movedItems returns the tasks of one agent as copies that must find room elsewhere.
func movedItems(s *mesos.Snapshot, tasks []int) []item {
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
	items := make([]item, 0, len(order))
	for _, k := range order {
		id := ""
		if k.app >= 0 && int(k.app) < len(s.Applications) {
			id = s.Applications[k.app].ID
		}
		items = append(items, item{app: id, res: k.res, count: counts[k], source: "moved", order: 0})
	}
	return items
}

// freeBins returns the free capacity of the pool's agents (except removed ones) followed by one
// empty node of shape per upcoming instance.
func freeBins(p pool, shape mesos.Resources, removed map[int]bool) []mesos.Resources {
	bins := make([]mesos.Resources, 0, len(p.agents)+p.upcoming)
	for i, a := range p.agents {
		if removed[i] {
			continue
		}
		bins = append(bins, a.free)
	}
	for i := 0; i < p.upcoming; i++ {
		bins = append(bins, shape)
	}
	return bins
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
