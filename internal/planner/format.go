package planner

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

var timeZero time.Time

func countCopies(items []item) int {
	n := 0
	for _, it := range items {
		n += it.count
	}
	return n
}

func percent(used, total float64) float64 {
	if total <= mesos.Epsilon {
		if used > mesos.Epsilon {
			return math.Inf(1)
		}
		return 0
	}
	return 100 * used / total
}

// round keeps 3 decimals, hiding the float noise Mesos sums carry.
func round(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func clamp32(v, lo, hi int32) int32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	out := append([]string{}, s[:n]...)
	return append(out, fmt.Sprintf("and %d more", len(s)-n))
}

func fmtAmount(r mesos.ResourceName, v float64) string {
	switch r {
	case mesos.ResourceCPUs:
		return fmt.Sprintf("%g cores", round(v))
	case mesos.ResourceMem, mesos.ResourceDisk:
		return fmt.Sprintf("%g MiB", round(v))
	}
	return fmt.Sprintf("%g", round(v))
}

func formatRes(r mesos.Resources) string {
	s := fmt.Sprintf("cpus=%g mem=%gMiB", round(r.CPUs), round(r.Mem))
	if r.Disk > 0 {
		s += fmt.Sprintf(" disk=%gMiB", round(r.Disk))
	}
	if r.GPUs > 0 {
		s += fmt.Sprintf(" gpus=%g", round(r.GPUs))
	}
	return s
}

func formatUtil(us []Utilization) string {
	parts := make([]string, 0, len(us))
	for _, u := range us {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", u.Resource, u.Percent))
	}
	return strings.Join(parts, ", ")
}

// plural renders n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// formatSelector renders attribute selectors as "pool=general, zone=a" (sorted), or "none".
func formatSelector(sel map[string]string) string {
	if len(sel) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
