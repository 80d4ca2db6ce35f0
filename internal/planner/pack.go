package planner

import (
	"math"
	"sort"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// item is a number of identical task copies to place.
type item struct {
	app    string
	res    mesos.Resources
	count  int
	source string // "pending", "headroom" or "moved"
	order  int    // placement phase: pending and moved copies before headroom
	place  *placement
}

// bin is a node copies can be placed on: an agent's free resources, an upcoming instance or a
// new node of the template shape.
type bin struct {
	free     mesos.Resources
	attrs    map[string]string
	hostname string
	// tasks counts the tasks per application already on the node (for hostname:UNIQUE and
	// MAX_PER); nil when none matter.
	tasks map[string]int
}

// packResult is the outcome of one placement simulation.
type packResult struct {
	// newNodes is the number of template nodes opened.
	newNodes int
	// newNodesPending is the number opened while placing the pending copies alone.
	newNodesPending int
	// unplaced lists the copies that fit nowhere, by item.
	unplaced []item
}

// fitCount returns how many copies of res fit in free (a large number when res is empty).
func fitCount(res, free mesos.Resources) int {
	n := math.MaxInt32
	for _, r := range mesos.AllResources {
		need := res.Get(r)
		if need <= mesos.Epsilon {
			continue
		}
		k := int(math.Floor((free.Get(r) + mesos.Epsilon) / need))
		if k < n {
			n = k
		}
	}
	if n < 0 {
		return 0
	}
	return n
}

// dominantShare is the largest fraction of shape that res takes.
func dominantShare(res, shape mesos.Resources) float64 {
	best := 0.0
	for _, r := range mesos.AllResources {
		need := res.Get(r)
		if need <= mesos.Epsilon {
			continue
		}
		s := shape.Get(r)
		if s <= mesos.Epsilon {
			return math.Inf(1)
		}
		if f := need / s; f > best {
			best = f
		}
	}
	return best
}

// fitsOn returns how many copies of it may go on b (resources, constraints, tasks per agent).
func fitsOn(it *item, b *bin) int {
	if it.place != nil && !it.place.satisfiedBy(b.attrs, b.hostname) {
		return 0
	}
	k := fitCount(it.res, b.free)
	if it.place != nil && it.place.maxPer > 0 {
		k = min(k, max(0, it.place.maxPer-b.tasks[it.app]))
	}
	return k
}

// put places k copies of it on b.
func put(it *item, b *bin, k int) {
	b.free = b.free.Sub(it.res.Scale(float64(k)))
	if it.place != nil && it.place.maxPer > 0 {
		if b.tasks == nil {
			b.tasks = map[string]int{}
		}
		b.tasks[it.app] += k
	}
}

// pack places the items first-fit decreasing (pending and moved copies first, then by dominant
// share of the template) into bins (modified in place), then, when allowNew, into new nodes
// shaped like template. Identical copies are placed many at a time, so the work grows with
// distinct items × bins, not copies × bins. A copy that fits neither an existing bin nor an
// empty template node is returned as unplaced and opens no node.
func pack(items []item, bins []bin, template bin, allowNew bool) packResult {
	sorted := make([]item, len(items))
	copy(sorted, items)
	shape := template.free
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.order != b.order {
			return a.order < b.order
		}
		da, db := dominantShare(a.res, shape), dominantShare(b.res, shape)
		if da != db {
			return da > db
		}
		return a.app < b.app
	})

	var res packResult
	existing := len(bins)
	pendingDone := false
	for i := range sorted {
		it := &sorted[i]
		if !pendingDone && it.order > 0 {
			res.newNodesPending = len(bins) - existing
			pendingDone = true
		}
		left := it.count
		for b := range bins {
			if left == 0 {
				break
			}
			k := min(fitsOn(it, &bins[b]), left)
			if k > 0 {
				put(it, &bins[b], k)
				left -= k
			}
		}
		if left > 0 && allowNew {
			empty := template
			empty.tasks = nil
			if per := fitsOn(it, &empty); per > 0 {
				for left > 0 {
					nb := template
					nb.tasks = nil
					k := min(fitsOn(it, &nb), left)
					put(it, &nb, k)
					bins = append(bins, nb)
					left -= k
				}
			}
		}
		if left > 0 {
			u := *it
			u.count = left
			res.unplaced = append(res.unplaced, u)
		}
	}
	if !pendingDone {
		res.newNodesPending = len(bins) - existing
	}
	res.newNodes = len(bins) - existing
	return res
}
