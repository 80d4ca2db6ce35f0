package planner

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lambdascale/lambdascale/internal/marathon"
)

// placement is what a copy needs from the node it lands on beyond resources: Marathon
// constraints and accepted roles.
type placement struct {
	// maxPer is the most tasks of the app one agent may run: 1 for hostname:UNIQUE, N for
	// hostname:MAX_PER:N; 0 for no limit.
	maxPer int
	// attrs are attribute constraints (CLUSTER, LIKE, UNLIKE) the node must satisfy.
	attrs []attrRule
}

// attrRule is one attribute constraint.
type attrRule struct {
	attr   string
	re     *regexp.Regexp
	negate bool // UNLIKE
	text   string
}

// parsePlacement reads Marathon constraints ([field, operator, value?]): hostname UNIQUE and
// MAX_PER limit the tasks per agent; CLUSTER, IS, LIKE and UNLIKE on an attribute (or the
// hostname) restrict the nodes. GROUP_BY and MAX_PER on other attributes spread tasks across
// values without making any node unusable, so they are not simulated.
func parsePlacement(constraints [][]string) placement {
	var p placement
	for _, c := range constraints {
		if len(c) < 2 {
			continue
		}
		field, op := c[0], strings.ToUpper(c[1])
		value := ""
		if len(c) > 2 {
			value = c[2]
		}
		switch {
		case op == "UNIQUE" && field == "hostname":
			p.maxPer = 1
		case op == "MAX_PER" && field == "hostname":
			if n, err := strconv.Atoi(value); err == nil && n > 0 && (p.maxPer == 0 || n < p.maxPer) {
				p.maxPer = n
			}
		case field == "hostname":
			// hostname CLUSTER/LIKE pins a task to named hosts: new nodes never match.
			if op == "CLUSTER" || op == "LIKE" || op == "IS" {
				p.attrs = append(p.attrs, attrRule{attr: "\x00hostname", re: compileAnchored(value, op == "CLUSTER" || op == "IS"), text: strings.Join(c, ":")})
			}
		case op == "CLUSTER" || op == "IS" || op == "LIKE" || op == "UNLIKE":
			literal := op == "CLUSTER" || op == "IS"
			p.attrs = append(p.attrs, attrRule{attr: field, re: compileAnchored(value, literal), negate: op == "UNLIKE", text: strings.Join(c, ":")})
		}
	}
	return p
}

func compileAnchored(value string, literal bool) *regexp.Regexp {
	if literal {
		value = regexp.QuoteMeta(value)
	}
	re, err := regexp.Compile("^(?:" + value + ")$")
	if err != nil {
		return regexp.MustCompile("^" + regexp.QuoteMeta(value) + "$")
	}
	return re
}

// satisfiedBy reports whether a node with these attributes and hostname satisfies the
// attribute constraints (not UNIQUE, which depends on the tasks already there).
func (p placement) satisfiedBy(attrs map[string]string, hostname string) bool {
	for _, r := range p.attrs {
		var v string
		var ok bool
		if r.attr == "\x00hostname" {
			v, ok = hostname, hostname != ""
		} else {
			v, ok = attrs[r.attr]
		}
		match := ok && r.re.MatchString(v)
		if r.negate {
			match = !ok || !r.re.MatchString(v)
		}
		if !match {
			return false
		}
	}
	return true
}

// targetsOtherPool reports whether a constraint pins the app to a value of one of the pool
// selector's attributes that the selector does not select: that demand belongs to another pool.
func (p placement) targetsOtherPool(selector map[string]string) bool {
	for _, r := range p.attrs {
		if want, ok := selector[r.attr]; ok && !r.negate && !r.re.MatchString(want) {
			return true
		}
	}
	return false
}

// acceptsRole reports whether an app accepting these roles can use the policy's capacity:
// unreserved resources ("*") or the role's reservations. Empty accepts Marathon's default
// ("*" and the framework's role).
func acceptsRole(accepted []string, role string) bool {
	if len(accepted) == 0 {
		return true
	}
	return slices.Contains(accepted, "*") || slices.Contains(accepted, role)
}

// waitsForCapacity reports whether a queued app is waiting for resources rather than in a
// launch back-off (the delay Marathon puts on an app whose tasks keep failing, which more
// nodes do not cure).
func waitsForCapacity(q marathon.QueueItem) bool {
	return q.Overdue || q.DelaySeconds <= 0
}
