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
	order  int    // placement phase: pending before headroom
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

// pack places the items first-fit decreasing (by dominant share of shape, pending before
// headroom) into bins (free resources, modified in place), then, when allowNew, into new nodes
// of shape. Items of identical copies are placed many at a time, so the work grows with
// distinct shapes × bins, not copies × bins. A copy that fits neither an existing bin nor an
// empty node of shape is returned as unplaced and opens no node.
func pack(items []item, bins []mesos.Resources, shape mesos.Resources, allowNew bool) packResult {
	sorted := make([]item, len(items))
	copy(sorted, items)
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
	for _, it := range sorted {
		if !pendingDone && it.order > 0 {
			res.newNodesPending = len(bins) - existing
			pendingDone = true
		}
		left := it.count
		for i := range bins {
			if left == 0 {
				break
			}
			k := fitCount(it.res, bins[i])
			if k == 0 {
				continue
			}
			if k > left {
				k = left
			}
			bins[i] = bins[i].Sub(it.res.Scale(float64(k)))
			left -= k
		}
		if left > 0 && allowNew {
			if per := fitCount(it.res, shape); per > 0 {
				for left > 0 {
					k := min(per, left)
					bins = append(bins, shape.Sub(it.res.Scale(float64(k))))
					left -= k
				}
			}
		}
		if left > 0 {
			u := it
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
