package controllers

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/internal/policy"
	"github.com/lambdascale/lambdascale/internal/store"
)

// ConditionSpecAccepted is False while the policy's file holds an invalid edit: the last good
// spec keeps running and the message names the problem (file and field path).
const ConditionSpecAccepted = "SpecAccepted"

// Sync replaces the reconciled policies with a new load of the policy files (hot reload):
//   - a policy whose spec changed takes effect at once (its generation goes up);
//   - a policy whose file now fails to load or validate keeps its last good spec running,
//     with condition SpecAccepted False naming the problem;
//   - a policy that is no longer in any file stops being reconciled; its status file says so
//     (Ready False, reason PolicyDeleted) and is kept;
//   - a new policy starts at once.
//
// It waits for a reconcile in progress to finish. It returns the problems of policies that
// could not start (like New).
func (c *Controller) Sync(loaded []policy.Loaded, loadErrs []error) []error {
	c.roundMu.Lock()
	defer c.roundMu.Unlock()
	now := c.opts.Clock.Now()

	// Problems by file, to tell an invalid edit from a deletion.
	broken := map[string][]string{}
	for _, err := range loadErrs {
		var pe *policy.Error
		if errors.As(err, &pe) {
			broken[pe.File] = append(broken[pe.File], err.Error())
		}
	}
	byName := map[string]policy.Loaded{}
	for _, l := range loaded {
		byName[l.Policy.Name] = l
	}

	var next []*policyState
	var errs []error
	seen := map[string]bool{}
	for _, ps := range c.policyList() {
		name := ps.obj.Name
		l, ok := byName[name]
		switch {
		case !ok && len(broken[ps.file]) > 0:
			// The file is there but does not load: keep the last good spec.
			setCondition(&ps.obj.Status, now, ConditionSpecAccepted, metav1.ConditionFalse, "InvalidSpec",
				"the last edit is not applied, the previous spec keeps running: "+strings.Join(broken[ps.file], "; "))
			if err := c.opts.Store.Put(ps.obj); err != nil {
				errs = append(errs, fmt.Errorf("policy %q: writing status: %w", name, err))
			}
			c.opts.Log.Info("Keeping the last good spec", "scalingPolicy", name, "problems", broken[ps.file])
			next = append(next, ps)
			seen[name] = true
		case !ok:
			c.stop(ps, now)
		case store.SameSpec(&ps.obj.Spec, &l.Policy.Spec):
			ps.file = l.File
			ps.source = l.Location()
			if meta := findCondition(ps.obj.Status.Conditions, ConditionSpecAccepted); meta != nil && meta.Status == metav1.ConditionFalse {
				setCondition(&ps.obj.Status, now, ConditionSpecAccepted, metav1.ConditionTrue, "Accepted", "the spec in "+ps.source+" is applied")
			}
			next = append(next, ps)
			seen[name] = true
		default:
			nps, err := c.newPolicyState(l, now)
			if err != nil {
				errs = append(errs, err)
				c.reportUnusable(l, now, err)
				next = append(next, ps) // keep running the last good spec
				seen[name] = true
				continue
			}
			setCondition(&nps.obj.Status, now, ConditionSpecAccepted, metav1.ConditionTrue, "Accepted", "the spec in "+nps.source+" is applied")
			c.opts.Log.Info("Applied an edited policy", "scalingPolicy", name, "generation", nps.obj.Generation)
			next = append(next, nps)
			seen[name] = true
		}
	}
	for _, l := range loaded {
		if seen[l.Policy.Name] {
			continue
		}
		nps, err := c.newPolicyState(l, now)
		if err != nil {
			errs = append(errs, err)
			c.reportUnusable(l, now, err)
			continue
		}
		c.opts.Log.Info("Added a policy", "scalingPolicy", l.Policy.Name)
		next = append(next, nps)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].obj.Name < next[j].obj.Name })
	c.listMu.Lock()
	c.policies = next
	c.listMu.Unlock()
	select {
	case c.wakeChan() <- struct{}{}:
	default:
	}
	return errs
}

// stop ends the reconciling of a deleted policy and says so in its status.
func (c *Controller) stop(ps *policyState, t time.Time) {
	msg := "the policy is no longer in " + ps.source + "; it is not reconciled any more"
	if n := len(ps.obj.Status.Drains); n > 0 {
		msg += fmt.Sprintf(" (%d drains in progress are left as they are: finish them by restoring the policy)", n)
	}
	setCondition(&ps.obj.Status, t, ConditionReady, metav1.ConditionFalse, "PolicyDeleted", msg)
	if err := c.opts.Store.Put(ps.obj); err != nil {
		c.opts.Log.Error(err, "Writing status", "scalingPolicy", ps.obj.Name)
	}
	c.opts.Log.Info("Stopped reconciling a deleted policy", "scalingPolicy", ps.obj.Name)
	c.healthMu.Lock()
	delete(c.reconciled, ps.obj.Name)
	c.healthMu.Unlock()
	if f, ok := c.opts.Recorder.(interface{ Forget(policy, group string) }); ok {
		f.Forget(ps.obj.Name, ps.settings.AutoScalingGroupName)
	}
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}
