package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
)

// Condition types written in status.conditions.
const (
	// ConditionReady is True when the last reconcile observed, decided and acted without error.
	ConditionReady = "Ready"
	// ConditionAbleToScale is False when the last write to the Auto Scaling group failed or a
	// decided change could not be made.
	ConditionAbleToScale = "AbleToScale"
	// ConditionScalingLimited is True when demand exceeds the pool's maximum.
	ConditionScalingLimited = "ScalingLimited"
	// ConditionObservationFailed is True when Mesos, Marathon or AWS could not be read; no
	// decision is made and nothing is written to AWS.
	ConditionObservationFailed = "ObservationFailed"
	// ConditionScaleUpFailed is True when launches failed (AWS's message) or launched
	// instances did not register as agents in time; growth then backs off.
	ConditionScaleUpFailed = "ScaleUpFailed"
)

// errNotLeader stops a reconcile whose replica lost the leadership before a write.
var errNotLeader = errors.New("not the leader: no write")

// phantomCapacity reports whether the group's desired capacity exceeds what its launching and
// in-service instances account for (in capacity units): launches failed or are still being
// attempted.
func phantomCapacity(g *cloud.Group) bool {
	return g.DesiredCapacity > g.CapacityUnits()+g.UpcomingUnits()
}

// reconcileOne observes, plans, acts and writes the status of one policy. It never panics on a
// bad observation; every failure ends in status conditions and a backoff.
func (c *Controller) reconcileOne(ctx context.Context, deadline time.Time, ps *policyState, prov cloud.Provider, group *cloud.Group, groupErr error) Result {
	now := c.opts.Clock.Now()
	began := time.Now() // wall time, for the duration metrics only
	log := c.opts.Log.WithValues("scalingPolicy", ps.obj.Name, "autoScalingGroup", ps.settings.AutoScalingGroupName)
	res := Result{Policy: ps.obj.Name, Group: ps.settings.AutoScalingGroupName, Time: now, began: began}
	st := &ps.obj.Status
	st.ObservedGeneration = ps.obj.Generation

	// Observe. Everything must be read before anything is written; every source is read even
	// when another failed, so that one reconcile reports every problem.
	var in planner.Input
	var problems []error
	var reasons []string
	fail := func(reason string, err error) {
		problems = append(problems, err)
		reasons = append(reasons, reason)
	}
	if groupErr != nil {
		fail("AutoScalingGroupUnavailable", groupErr)
	}
	gctx, cancel := context.WithDeadline(ctx, deadline)
	snap, err := ps.mesos.State(gctx)
	cancel()
	switch {
	case err != nil:
		fail("MesosUnavailable", fmt.Errorf("reading Mesos state: %w", err))
	case group != nil && len(snap.Agents) == 0 && len(group.Instances) > 0:
		fail("MesosViewEmpty", fmt.Errorf("the leading master %s reports no agents while the group has %d instances; refusing to act on an empty view", snap.Leader, len(group.Instances)))
	default:
		in.Snapshot = snap
	}
	if ps.marathon != nil {
		gctx, cancel := context.WithDeadline(ctx, deadline)
		q, err := ps.marathon.Queue(gctx)
		if err == nil {
			in.Apps, err = ps.marathon.Apps(gctx)
		}
		cancel()
		if err != nil {
			fail("MarathonUnavailable", err)
		}
		in.Pending = q
	}
	if group != nil && prov != nil && phantomCapacity(group) {
		// Desired capacity the group's instances do not account for: were launches failing?
		gctx, cancel := context.WithDeadline(ctx, deadline)
		acts, err := prov.ScalingActivities(gctx, group.Name, 20)
		cancel()
		if err != nil {
			fail("AutoScalingGroupUnavailable", fmt.Errorf("reading scaling activities: %w", err))
		}
		in.FailedLaunches = cloud.FailedLaunches(acts, now.Add(-time.Hour))
	}
	if group != nil && len(problems) == 0 {
		in.InstanceTypes = c.instanceTypes(ctx, deadline, prov, group, log)
	}
	res.GatherDuration = time.Since(began)
	if len(problems) > 0 && ctx.Err() != nil {
		// Stopped (SIGTERM) during the observation: nothing was decided and the last status
		// stays as it was, rather than reporting the interruption as a failure.
		res.Err = fmt.Errorf("stopped during observation: %w", ctx.Err())
		return res
	}
	if len(problems) > 0 {
		obsErr := errors.Join(problems...)
		res.Err = obsErr
		msg := strings.ReplaceAll(obsErr.Error(), "\n", "; ")
		setCondition(st, now, ConditionObservationFailed, metav1.ConditionTrue, reasons[0], msg)
		setCondition(st, now, ConditionReady, metav1.ConditionFalse, reasons[0], "no decision: "+msg)
		return c.finish(ps, log, res)
	}
	setCondition(st, now, ConditionObservationFailed, metav1.ConditionFalse, "ObservationSucceeded", fmt.Sprintf("read %d agents from %s and %d instances of the group", len(in.Snapshot.Agents), in.Snapshot.Leader, len(group.Instances)))

	// Decide.
	in.Config = ps.config
	in.Group = group
	in.Now = now
	// A scale-down recommendation counts only if it was observed to hold: after a gap in
	// observation (the controller was down, or another replica led) the window starts over.
	if st.ScaleDownRecommendedSince != nil && st.LastDecision != nil && now.Sub(st.LastDecision.Time.Time) <= observationGap(ps.settings.Interval) {
		in.Memory.ScaleDownSince = st.ScaleDownRecommendedSince.Time
	}
	if st.LastScaleUpTime != nil {
		in.Memory.LastScaleUp = st.LastScaleUpTime.Time
	}
	for _, r := range st.Drains {
		in.Draining = append(in.Draining, r.AgentID)
	}
	in.Memory.PoolAgents = int(st.PoolAgents)
	in.Memory.ScaleUpFailures = int(st.ScaleUpFailures)
	if st.ScaleUpBackoffUntil != nil {
		in.Memory.ScaleUpBackoffUntil = st.ScaleUpBackoffUntil.Time
	}
	planned := time.Now()
	d := planner.Plan(in)
	res.PlanDuration = time.Since(planned)
	res.Decision = &d
	log.V(2).Info("Decided", "direction", d.Direction, "current", d.CurrentCapacity, "desired", d.DesiredCapacity, "reasons", reasonNames(d.Reasons))

	// Act: writes are not cut off by a cancellation (SIGTERM) once started.
	actErr := c.act(context.WithoutCancel(ctx), ps, prov, group, in.Snapshot, &d, &res, now)
	if errors.Is(actErr, errCrashed) || errors.Is(actErr, errNotLeader) {
		res.Err = actErr
		return res // killed, or no longer the leader: nothing more is written
	}
	if d.Memory.ScaleDownSince.IsZero() {
		st.ScaleDownRecommendedSince = nil
	} else {
		st.ScaleDownRecommendedSince = &metav1.Time{Time: d.Memory.ScaleDownSince}
	}
	if len(res.Acted) > 0 {
		st.LastScaleTime = &metav1.Time{Time: now}
		if d.Direction == planner.ScaleUp {
			st.LastScaleUpTime = &metav1.Time{Time: now}
		}
	}

	st.PoolAgents = int32(d.Memory.PoolAgents)
	st.ScaleUpFailures = int32(d.Memory.ScaleUpFailures)
	st.ScaleUpBackoffUntil = nil
	if !d.Memory.ScaleUpBackoffUntil.IsZero() {
		st.ScaleUpBackoffUntil = &metav1.Time{Time: d.Memory.ScaleUpBackoffUntil}
	}

	// Status.
	st.CurrentNodes = d.CurrentCapacity
	st.DesiredNodes = d.DesiredCapacity
	st.UpcomingNodes = int32(d.UpcomingNodes)
	st.Utilization = utilization(d.Utilization)
	st.LastDecision = &v1alpha1.DecisionSummary{
		Time: metav1.Time{Time: now}, Direction: string(d.Direction),
		CurrentNodes: d.CurrentCapacity, DesiredNodes: d.DesiredCapacity,
		ScaleDownAgents: d.ScaleDownAgents, Unschedulable: d.Unschedulable,
	}
	for _, r := range d.Reasons {
		st.LastDecision.Reasons = append(st.LastDecision.Reasons, v1alpha1.Reason{Reason: r.Reason, Message: r.Message})
	}
	st.LastDecision.Actions = res.Acted
	st.RecentDecisions = appendHistory(st.RecentDecisions, *st.LastDecision)
	if msg, limited := reasonMessage(d.Reasons, planner.ReasonScalingLimited); limited {
		setCondition(st, now, ConditionScalingLimited, metav1.ConditionTrue, planner.ReasonScalingLimited, msg)
	} else {
		setCondition(st, now, ConditionScalingLimited, metav1.ConditionFalse, "WithinLimits", fmt.Sprintf("desired %d nodes within [%d, %d]", d.DesiredCapacity, d.MinCapacity, d.MaxCapacity))
	}
	if len(st.Drains) > 0 && !group.IsSuspended("AZRebalance") {
		setCondition(st, now, ConditionAZRebalanceActive, metav1.ConditionTrue, "DrainingWithAZRebalance",
			"agents are draining while the group's AZRebalance process runs: AWS may terminate an undrained instance to rebalance zones; suspend AZRebalance during scale-in")
	} else {
		setCondition(st, now, ConditionAZRebalanceActive, metav1.ConditionFalse, "NoRisk", "no drain at risk from AZ rebalancing")
	}
	switch msg, failed := reasonMessage(d.Reasons, planner.ReasonScaleUpFailed); {
	case failed:
		setCondition(st, now, ConditionScaleUpFailed, metav1.ConditionTrue, planner.ReasonScaleUpFailed, msg)
	case len(d.MissingInstances) > 0:
		m, _ := reasonMessage(d.Reasons, planner.ReasonInstancesNotRegistered)
		setCondition(st, now, ConditionScaleUpFailed, metav1.ConditionTrue, planner.ReasonInstancesNotRegistered, m)
	default:
		setCondition(st, now, ConditionScaleUpFailed, metav1.ConditionFalse, "NoFailure", "launched instances register as agents")
	}
	if actErr != nil {
		res.Err = actErr
		code := cloud.ErrorCode(actErr)
		if code == "" {
			code = "ScalingFailed"
		}
		setCondition(st, now, ConditionAbleToScale, metav1.ConditionFalse, code, actErr.Error())
		setCondition(st, now, ConditionReady, metav1.ConditionFalse, "ActuationFailed", actErr.Error())
		return c.finish(ps, log, res)
	}
	switch {
	case ps.settings.DryRun:
		setCondition(st, now, ConditionAbleToScale, metav1.ConditionTrue, "DryRun", "mode is DryRun: decisions are reported, nothing is written to AWS")
	case len(res.Acted) > 0:
		setCondition(st, now, ConditionAbleToScale, metav1.ConditionTrue, "ScalingSucceeded", strings.Join(res.Acted, "; "))
	default:
		setCondition(st, now, ConditionAbleToScale, metav1.ConditionTrue, "Converged", fmt.Sprintf("the group is at the decided %d nodes", d.DesiredCapacity))
	}
	setCondition(st, now, ConditionReady, metav1.ConditionTrue, "Reconciled", summary(d))
	return c.finish(ps, log, res)
}

// act converges the group towards the decision. Drains in progress advance first (and are
// given back when growth needs them); then SetDesiredCapacity grows the group, or the chosen
// agents start draining through Mesos maintenance before their instances are terminated with
// ShouldDecrementDesiredCapacity. DryRun writes nothing to AWS or Mesos.
func (c *Controller) act(ctx context.Context, ps *policyState, prov cloud.Provider, group *cloud.Group, snap *mesos.Snapshot, d *planner.Decision, res *Result, now time.Time) error {
	if ps.settings.DryRun {
		return nil
	}
	if !c.leading() {
		return errNotLeader
	}
	log := c.opts.Log.WithValues("scalingPolicy", ps.obj.Name, "autoScalingGroup", group.Name)
	dr := &drainer{c: c, ps: ps, prov: prov, group: group, snap: snap, d: d, res: res, log: log, now: now}
	if err := dr.progress(ctx); err != nil {
		return err
	}
	switch d.Direction {
	case planner.ScaleUp:
		if d.DesiredCapacity <= group.DesiredCapacity {
			return nil
		}
		if !c.leading() {
			return errNotLeader
		}
		if group.IsSuspended("Launch") {
			return fmt.Errorf("not growing Auto Scaling group %q to %d: its Launch process is suspended", group.Name, d.DesiredCapacity)
		}
		if err := prov.SetDesiredCapacity(ctx, group.Name, d.DesiredCapacity); err != nil {
			return err
		}
		log.Info("Set desired capacity", "from", group.DesiredCapacity, "to", d.DesiredCapacity)
		res.Acted = append(res.Acted, fmt.Sprintf("SetDesiredCapacity %d→%d", group.DesiredCapacity, d.DesiredCapacity))
	case planner.ScaleDown:
		return dr.start(ctx)
	}
	return nil
}

// finish writes the status and schedules the next reconcile (interval, or backoff on error).
func (c *Controller) finish(ps *policyState, log logr.Logger, res Result) Result {
	interval := ps.settings.Interval
	if res.Err != nil {
		ps.failures++
		res.RequeueAfter = backoff(ps.failures, interval)
	} else {
		ps.failures = 0
		res.RequeueAfter = interval
	}
	if err := c.opts.Store.Put(ps.obj); err != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("writing status: %w", err))
	}
	res.Duration = time.Since(res.began)
	if c.opts.Recorder != nil {
		c.opts.Recorder.Reconcile(res.Policy, res.Group, res.Decision, len(ps.obj.Status.Drains), res.Err != nil, res.GatherDuration, res.PlanDuration, res.Duration)
	}
	c.noteReconciled(ps.obj.Name, res.Time)
	if res.Err != nil {
		log.Error(res.Err, "Reconcile failed", "requeueAfter", res.RequeueAfter.String())
	}
	ps.next = res.Time.Add(res.RequeueAfter)
	return res
}

// backoff returns the wait after the n-th consecutive failure: BackoffInitial·2^(n-1), at most
// BackoffMax, and never longer than the policy's interval when that is longer than BackoffMax.
func backoff(n int, interval time.Duration) time.Duration {
	d := time.Duration(float64(BackoffInitial) * math.Pow(2, float64(n-1)))
	limit := max(BackoffMax, interval)
	if d > limit || d <= 0 {
		return limit
	}
	return d
}

func setCondition(st *v1alpha1.ScalingPolicyStatus, now time.Time, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: st.ObservedGeneration,
		LastTransitionTime: metav1.Time{Time: now},
	})
}

func utilization(us []planner.Utilization) []v1alpha1.ResourceUtilization {
	out := make([]v1alpha1.ResourceUtilization, 0, len(us))
	for _, u := range us {
		out = append(out, v1alpha1.ResourceUtilization{
			Resource: string(u.Resource),
			Used:     quantity(string(u.Resource), u.Used),
			Total:    quantity(string(u.Resource), u.Total),
			Percent:  int32(math.Floor(u.Percent)),
		})
	}
	return out
}

// quantity renders an amount of resource r as a Quantity: cpus in cores with 3 decimals
// ("12900m" is 12.9 cores), mem and disk in bytes from MiB ("24864Mi"), gpus as a count.
func quantity(r string, v float64) resource.Quantity {
	if r == "mem" || r == "disk" {
		return *resource.NewQuantity(int64(math.Round(v))<<20, resource.BinarySI)
	}
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

func reasonNames(rs []planner.Reason) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Reason)
	}
	return out
}

func reasonMessage(rs []planner.Reason, reason string) (string, bool) {
	for _, r := range rs {
		if r.Reason == reason {
			return r.Message, true
		}
	}
	return "", false
}

func summary(d planner.Decision) string {
	s := fmt.Sprintf("%s: %d → %d nodes", d.Direction, d.CurrentCapacity, d.DesiredCapacity)
	if len(d.Reasons) > 0 {
		s += " (" + strings.Join(reasonNames(d.Reasons), ", ") + ")"
	}
	return s
}

// copyPolicy returns a deep copy of p with an empty status (JSON round trip: the API types have
// no generated DeepCopy yet).
func copyPolicy(p *v1alpha1.ScalingPolicy) (*v1alpha1.ScalingPolicy, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("copying policy %q: %w", p.Name, err)
	}
	var out v1alpha1.ScalingPolicy
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("copying policy %q: %w", p.Name, err)
	}
	out.Status = v1alpha1.ScalingPolicyStatus{}
	return &out, nil
}

// instanceTypeShaper is implemented by providers that know instance types' sizes
// (EC2 DescribeInstanceTypes).
type instanceTypeShaper interface {
	InstanceTypeShapes(ctx context.Context, types []string) (map[string]cloud.InstanceTypeShape, error)
}

// instanceTypes returns EC2's vCPUs and MiB for the types the group has or may launch, as Mesos
// resources (cores, MiB), when the provider can tell; errors only lose this fallback.
func (c *Controller) instanceTypes(ctx context.Context, deadline time.Time, prov cloud.Provider, group *cloud.Group, log logr.Logger) map[string]mesos.Resources {
	shaper, ok := prov.(instanceTypeShaper)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var types []string
	for _, t := range group.InstanceTypes {
		if t.InstanceType != "" && !seen[t.InstanceType] {
			seen[t.InstanceType] = true
			types = append(types, t.InstanceType)
		}
	}
	for _, i := range group.Instances {
		if i.InstanceType != "" && !seen[i.InstanceType] {
			seen[i.InstanceType] = true
			types = append(types, i.InstanceType)
		}
	}
	if len(types) == 0 {
		return nil
	}
	gctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	shapes, err := shaper.InstanceTypeShapes(gctx, types)
	if err != nil {
		log.V(2).Info("Instance type sizes unknown", "types", types, "error", err.Error())
		return nil
	}
	out := make(map[string]mesos.Resources, len(shapes))
	for t, s := range shapes {
		out[t] = mesos.Resources{CPUs: float64(s.VCPUs), Mem: float64(s.MemoryMiB)}
	}
	return out
}

// appendHistory adds a decision to the bounded history when it acted or differs from the
// previous one in direction, counts or reasons (a steady cluster does not flood it).
func appendHistory(h []v1alpha1.DecisionSummary, d v1alpha1.DecisionSummary) []v1alpha1.DecisionSummary {
	if n := len(h); n > 0 && len(d.Actions) == 0 {
		last := h[n-1]
		if last.Direction == d.Direction && last.CurrentNodes == d.CurrentNodes && last.DesiredNodes == d.DesiredNodes && sameReasons(last.Reasons, d.Reasons) {
			return h
		}
	}
	h = append(h, d)
	if len(h) > v1alpha1.MaxRecentDecisions {
		h = append([]v1alpha1.DecisionSummary{}, h[len(h)-v1alpha1.MaxRecentDecisions:]...)
	}
	return h
}

func sameReasons(a, b []v1alpha1.Reason) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Reason != b[i].Reason {
			return false
		}
	}
	return true
}

// observationGap is the longest pause between two decisions across which a scale-down
// recommendation still counts as having held: three intervals, at least two minutes (a quick
// restart or one failed reconcile keeps the window, a longer outage restarts it).
func observationGap(interval time.Duration) time.Duration {
	return max(3*interval, 2*time.Minute)
}
