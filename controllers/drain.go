package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/cloud"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/planner"
)

// Steps of a scale-in at which Options.Crash is consulted (tests kill the controller there).
const (
	StepIntentRecorded = "IntentRecorded" // drains written to status, nothing else done
	StepWindowPosted   = "WindowPosted"   // maintenance window posted to Mesos
	StepTerminated     = "Terminated"     // TerminateInstanceInAutoScalingGroup accepted
	StepMachineDown    = "MachineDown"    // /master/machine/down accepted
	StepMaintenanceEnd = "MaintenanceEnded"
)

// ConditionAZRebalanceActive is True while agents are drained in a group whose AZRebalance
// process is not suspended: AWS may then terminate an undrained instance itself to rebalance
// the zones after our terminations.
const ConditionAZRebalanceActive = "AZRebalanceActive"

// errCrashed is returned when Options.Crash stopped a reconcile (tests only).
var errCrashed = errors.New("reconcile stopped by Options.Crash")

// crash reports whether the test hook wants the controller to die after step.
func (c *Controller) crash(step string) bool {
	return c.opts.Crash != nil && c.opts.Crash(step)
}

// drainer runs one reconcile's scale-in work for one policy.
type drainer struct {
	c     *Controller
	ps    *policyState
	prov  cloud.Provider
	group *cloud.Group
	snap  *mesos.Snapshot
	d     *planner.Decision
	res   *Result
	log   logr.Logger
	now   time.Time
	fresh *mesos.Snapshot // re-read of the state just before a termination (lazy)
}

func (dr *drainer) machine(r v1alpha1.DrainStatus) mesos.MachineID {
	return mesos.MachineID{Hostname: r.Hostname, IP: r.IP}
}

func (dr *drainer) note(format string, args ...any) {
	dr.res.Acted = append(dr.res.Acted, fmt.Sprintf(format, args...))
}

func (dr *drainer) save() error {
	if !dr.c.leading() {
		return errNotLeader
	}
	if err := dr.c.opts.Store.Put(dr.ps.obj); err != nil {
		return fmt.Errorf("recording drains in status: %w", err)
	}
	return nil
}

// progress advances every recorded drain: undrain when growth wants the capacity back,
// terminate once the agent runs no task (after re-reading it), apply the drain timeout, take
// terminated machines down and end their maintenance once the instance is gone. Each step is
// idempotent and read from the current state, so a restarted controller finishes or rolls back
// what a killed one started.
func (dr *drainer) progress(ctx context.Context) error {
	st := &dr.ps.obj.Status
	if len(st.Drains) == 0 {
		return nil
	}
	sched, err := dr.ps.mesos.GetSchedule(ctx)
	if err != nil {
		return fmt.Errorf("reading the maintenance schedule: %w", err)
	}
	members := map[string]*cloud.Instance{}
	for i := range dr.group.Instances {
		members[dr.group.Instances[i].ID] = &dr.group.Instances[i]
	}
	agents := map[string]*mesos.Agent{}
	for i := range dr.snap.Agents {
		agents[dr.snap.Agents[i].ID] = &dr.snap.Agents[i]
	}
	var errs []error
	kept := st.Drains[:0:0]
	for _, r := range st.Drains {
		keep, err := dr.step(ctx, r, members[r.InstanceID], agents[r.AgentID], sched)
		if errors.Is(err, errCrashed) || errors.Is(err, errNotLeader) {
			return err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("drain of agent %s (instance %s): %w", r.AgentID, r.InstanceID, err))
		}
		if keep != nil {
			kept = append(kept, *keep)
		}
	}
	st.Drains = kept
	return errors.Join(errs...)
}

// step advances one drain and returns the record to keep (nil when the drain is over).
func (dr *drainer) step(ctx context.Context, r v1alpha1.DrainStatus, inst *cloud.Instance, agent *mesos.Agent, sched mesos.Schedule) (*v1alpha1.DrainStatus, error) {
	if !dr.c.leading() {
		return &r, errNotLeader
	}
	m := dr.machine(r)
	switch {
	case inst == nil:
		// The instance is gone: bring the machine up and out of the schedule.
		if err := dr.ps.mesos.EndMaintenance(ctx, []mesos.MachineID{m}); err != nil {
			return &r, err
		}
		dr.note("EndMaintenance %s (instance %s gone)", m, r.InstanceID)
		if dr.c.crash(StepMaintenanceEnd) {
			return nil, errCrashed
		}
		return nil, nil
	case r.Phase == v1alpha1.DrainPhaseTerminating || inst.IsTerminatingOrGone():
		r.Phase = v1alpha1.DrainPhaseTerminating
		if agent != nil && sched.Contains(m) {
			if err := dr.machineDown(ctx, m); err != nil {
				return &r, err
			}
		}
		return &r, nil
	case slices.Contains(dr.d.UndrainAgents, r.AgentID):
		return dr.undrain(ctx, r, "demand returned: the agent is given back instead of launching")
	case !inst.IsInService():
		return dr.undrain(ctx, r, fmt.Sprintf("instance is %s, not InService", inst.LifecycleState))
	case !sched.Contains(m):
		// Recorded but the window is missing (killed between recording and posting, or
		// someone removed it): post it again.
		left := max(r.Deadline.Time.Sub(dr.now), time.Minute)
		if _, err := dr.ps.mesos.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule { return s.WithWindow([]mesos.MachineID{m}, dr.now, left) }); err != nil {
			return &r, err
		}
		dr.note("Maintenance window re-posted for %s", m)
		return &r, nil
	}
	if app := dr.protectedOnlyHere(dr.snap, r.AgentID); app != "" {
		return dr.undrain(ctx, r, fmt.Sprintf("protected application %s runs on the agent and on no other agent that stays", app))
	}
	if agent != nil && agent.TaskCount == 0 {
		return dr.terminateIfStillEmpty(ctx, r, agent)
	}
	if !dr.now.Before(r.Deadline.Time) {
		if dr.ps.settings.DrainTimeoutForce {
			dr.log.Info("Drain timed out; terminating with its tasks (drainTimeoutAction Force)", "agent", r.AgentID, "instance", r.InstanceID)
			return dr.terminate(ctx, r, agent)
		}
		return dr.undrain(ctx, r, fmt.Sprintf("drain timed out after %s with tasks still running (drainTimeoutAction Abort)", dr.ps.settings.DrainTimeout))
	}
	return &r, nil
}

// terminateIfStillEmpty re-reads the agent just before terminating: a task that arrived in the
// meantime of a protected application aborts the drain; any other waits for the next pass.
func (dr *drainer) terminateIfStillEmpty(ctx context.Context, r v1alpha1.DrainStatus, agent *mesos.Agent) (*v1alpha1.DrainStatus, error) {
	if dr.fresh == nil {
		s, err := dr.ps.mesos.State(ctx)
		if err != nil {
			return &r, fmt.Errorf("re-reading the agent before terminating: %w", err)
		}
		dr.fresh = s
	}
	if app := dr.protectedOnlyHere(dr.fresh, r.AgentID); app != "" {
		return dr.undrain(ctx, r, fmt.Sprintf("a task of protected application %s, which runs on no other agent that stays, arrived during the drain", app))
	}
	for _, a := range dr.fresh.Agents {
		if a.ID == r.AgentID && a.TaskCount > 0 {
			return &r, nil // a task arrived; its framework will move it
		}
	}
	return dr.terminate(ctx, r, agent)
}

// protectedOnlyHere returns the id of a protected application with a task on the agent and
// no task on any other agent that is not being drained (the rule the planner chose victims
// by), or "".
func (dr *drainer) protectedOnlyHere(s *mesos.Snapshot, agentID string) string {
	protected := dr.ps.settings.ProtectedApplications
	if len(protected) == 0 {
		return ""
	}
	draining := map[string]bool{}
	for _, r := range dr.ps.obj.Status.Drains {
		draining[r.AgentID] = true
	}
	here := map[string]bool{}
	elsewhere := map[string]bool{}
	for _, t := range s.Tasks {
		if t.AgentIndex < 0 || int(t.AgentIndex) >= len(s.Agents) || t.AppIndex < 0 || int(t.AppIndex) >= len(s.Applications) {
			continue
		}
		id := s.Applications[t.AppIndex].ID
		if !planner.IsProtected(id, protected) {
			continue
		}
		switch a := s.Agents[t.AgentIndex].ID; {
		case a == agentID:
			here[id] = true
		case !draining[a]:
			elsewhere[id] = true
		}
	}
	for id := range here {
		if !elsewhere[id] {
			return id
		}
	}
	return ""
}

// terminate terminates the drained agent's instance with ShouldDecrementDesiredCapacity. AWS
// refusing it (desired at MinSize, protection, a validation error) undrains the agent.
func (dr *drainer) terminate(ctx context.Context, r v1alpha1.DrainStatus, agent *mesos.Agent) (*v1alpha1.DrainStatus, error) {
	if !dr.c.leading() {
		return &r, errNotLeader
	}
	err := dr.prov.TerminateInstance(ctx, dr.group.Name, r.InstanceID)
	var nis *cloud.NotInServiceError
	switch {
	case err == nil, errors.As(err, &nis) && nis.AlreadyTerminating():
	case cloud.IsRetryable(err):
		return &r, err
	default:
		keep, uerr := dr.undrain(ctx, r, fmt.Sprintf("AWS refused the termination: %v", err))
		return keep, errors.Join(fmt.Errorf("terminating instance %s: %w", r.InstanceID, err), uerr)
	}
	r.Phase = v1alpha1.DrainPhaseTerminating
	dr.log.Info("Terminated drained instance", "agent", r.AgentID, "instance", r.InstanceID)
	dr.note("TerminateInstanceInAutoScalingGroup %s (agent %s)", r.InstanceID, r.AgentID)
	dr.replace(r)
	if err := dr.save(); err != nil {
		return &r, err
	}
	if dr.c.crash(StepTerminated) {
		return &r, errCrashed
	}
	if agent != nil {
		if err := dr.machineDown(ctx, dr.machine(r)); err != nil {
			return &r, err
		}
	}
	return &r, nil
}

// machineDown takes a terminated agent's machine down (/master/machine/down) so Mesos stops
// counting on it before the instance is gone. A refusal is logged, not fatal: the machine
// leaves the schedule once the instance is gone anyway. Only a test crash is returned.
func (dr *drainer) machineDown(ctx context.Context, m mesos.MachineID) error {
	if !dr.c.leading() {
		return errNotLeader
	}
	if err := dr.ps.mesos.MachinesDown(ctx, []mesos.MachineID{m}); err != nil {
		dr.log.V(2).Info("Machine not taken down", "machine", m.String(), "error", err.Error())
		return nil
	}
	dr.note("MachineDown %s", m)
	if dr.c.crash(StepMachineDown) {
		return errCrashed
	}
	return nil
}

// replace updates the record of r's agent in the status (so a save records the new phase).
func (dr *drainer) replace(r v1alpha1.DrainStatus) {
	for i := range dr.ps.obj.Status.Drains {
		if dr.ps.obj.Status.Drains[i].AgentID == r.AgentID {
			dr.ps.obj.Status.Drains[i] = r
		}
	}
}

// undrain takes the agent's machine out of the maintenance schedule (leaving every other
// window as it was) and ends the drain.
func (dr *drainer) undrain(ctx context.Context, r v1alpha1.DrainStatus, why string) (*v1alpha1.DrainStatus, error) {
	m := dr.machine(r)
	if !dr.c.leading() {
		return &r, errNotLeader
	}
	if _, err := dr.ps.mesos.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule { return s.Without([]mesos.MachineID{m}) }); err != nil {
		return &r, fmt.Errorf("undraining %s: %w", m, err)
	}
	dr.log.Info("Undrained agent", "agent", r.AgentID, "instance", r.InstanceID, "reason", why)
	dr.note("Undrain %s (agent %s): %s", m, r.AgentID, why)
	return nil, nil
}

// start records and posts the drains of the planner's chosen agents, after the preflight
// checks: desired capacity above MinSize, the Terminate process not suspended.
func (dr *drainer) start(ctx context.Context) error {
	st := &dr.ps.obj.Status
	if dr.group.IsSuspended("Terminate") {
		return fmt.Errorf("not draining: the Terminate process of Auto Scaling group %q is suspended", dr.group.Name)
	}
	inflight := int32(0)
	for _, r := range st.Drains {
		inflight += max(r.Units, 1)
	}
	byID := map[string]*mesos.Agent{}
	for i := range dr.snap.Agents {
		byID[dr.snap.Agents[i].ID] = &dr.snap.Agents[i]
	}
	units := map[string]int32{}
	for _, inst := range dr.group.Instances {
		units[inst.ID] = max(inst.WeightedCapacity, 1)
	}
	var machines []mesos.MachineID
	var started []string // "agent (n tasks)" for the notes
	for i, id := range dr.d.ScaleDownAgents {
		inst := dr.d.ScaleDownInstances[i]
		a := byID[id]
		if inst == "" || a == nil {
			continue // only agents registered now and matched to an instance are drained
		}
		w := units[inst]
		if dr.group.DesiredCapacity-inflight-w < dr.group.MinSize {
			dr.note("Not draining agent %s: desired capacity %d would go below MinSize %d", id, dr.group.DesiredCapacity-inflight, dr.group.MinSize)
			break
		}
		inflight += w
		m := mesos.MachineIDOf(*a)
		machines = append(machines, m)
		started = append(started, fmt.Sprintf("%s (%s)", id, taskCount(a.TaskCount)))
		st.Drains = append(st.Drains, v1alpha1.DrainStatus{
			AgentID: id, InstanceID: inst, Hostname: m.Hostname, IP: m.IP, Units: w,
			Phase:     v1alpha1.DrainPhaseDraining,
			StartTime: metav1.Time{Time: dr.now}, Deadline: metav1.Time{Time: dr.now.Add(dr.ps.settings.DrainTimeout)},
		})
	}
	if len(machines) == 0 {
		return nil
	}
	// Intent first: a controller killed from here on finds the drains in status.
	if err := dr.save(); err != nil {
		return err
	}
	if dr.c.crash(StepIntentRecorded) {
		return errCrashed
	}
	window := max(dr.ps.settings.DrainTimeout, time.Minute)
	if _, err := dr.ps.mesos.UpdateSchedule(ctx, func(s mesos.Schedule) mesos.Schedule { return s.WithWindow(machines, dr.now, window) }); err != nil {
		return fmt.Errorf("posting the maintenance window: %w", err)
	}
	dr.log.Info("Draining agents", "agents", started)
	dr.note("Drain %s (maintenance window for %s)", strings.Join(started, ", "), window)
	if dr.c.crash(StepWindowPosted) {
		return errCrashed
	}
	// Agents that already run nothing go in this same pass.
	return dr.progress(ctx)
}

func taskCount(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}
