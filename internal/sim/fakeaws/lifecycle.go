package fakeaws

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// requiredBool reads a required boolean parameter named field in AWS's error texts.
func requiredBool(form url.Values, key, field string) (bool, *apiError) {
	b, err := strconv.ParseBool(form.Get(key))
	if err != nil {
		return false, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	return b, nil
}

// membersOf returns the members of g named by InstanceIds.member.N, in request order.
func membersOf(g *group, form url.Values) ([]*instance, *apiError) {
	ids := listParam(form, "InstanceIds.member")
	if len(ids) == 0 {
		return nil, validation("1 validation error detected: Value null at 'instanceIds' failed to satisfy constraint: Member must not be null")
	}
	var out []*instance
	for _, id := range ids {
		in := g.member(id)
		if in == nil {
			return nil, validation("The instance %s is not part of Auto Scaling group %s.", id, g.name)
		}
		out = append(out, in)
	}
	return out, nil
}

// sizesError is AWS's refusal of a change that would leave the group's bounds, as
// EnterStandby words it ("AutoScalingGroup my-asg has min-size=1, max-size=1, and
// desired-size=1. To place into standby 1 instance, please update the AutoScalingGroup
// sizes appropriately."); what is "To detach ..." and "To exit standby ..." is not
// confirmed.
func sizesError(g *group, what string, n int) *apiError {
	noun := "instance"
	if n != 1 {
		noun = "instances"
	}
	return validation("AutoScalingGroup %s has min-size=%d, max-size=%d, and desired-size=%d. To %s %d %s, please update the AutoScalingGroup sizes appropriately.",
		g.name, g.min, g.max, g.desired, what, n, noun)
}

// activitiesResponse answers an action whose result is a list of activities.
func (s *Server) activitiesResponse(action, reqID string, acts []*activity) ([]byte, *apiError) {
	type result struct {
		XMLName    xml.Name
		Activities list[xmlActivity] `xml:"Activities"`
	}
	r := result{XMLName: xml.Name{Local: action + "Result"}}
	for _, a := range acts {
		r.Activities.Member = append(r.Activities.Member, s.xmlActivityOf(a))
	}
	return marshalResponse(action, reqID, r)
}

// completeLifecycleAction answers CompleteLifecycleAction: it ends the lifecycle action of
// an instance waiting in Pending:Wait (hook LaunchHookName) or Terminating:Wait (hook
// TerminateHookName), found by InstanceId or LifecycleActionToken. CONTINUE moves it on;
// ABANDON cancels a launch (the instance is terminated) and lets a termination proceed.
func (s *Server) completeLifecycleAction(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	hook := form.Get("LifecycleHookName")
	if hook == "" {
		return nil, validation("1 validation error detected: Value null at 'lifecycleHookName' failed to satisfy constraint: Member must not be null")
	}
	result := form.Get("LifecycleActionResult")
	switch result {
	case HookContinue, HookAbandon:
	case "":
		return nil, validation("1 validation error detected: Value null at 'lifecycleActionResult' failed to satisfy constraint: Member must not be null")
	default:
		// Not a confirmed AWS text.
		return nil, validation("Invalid LifecycleActionResult %s: valid values are CONTINUE and ABANDON.", result)
	}
	id, token := form.Get("InstanceId"), form.Get("LifecycleActionToken")
	if id == "" && token == "" {
		// Not a confirmed AWS text.
		return nil, validation("Either InstanceId or LifecycleActionToken must be specified.")
	}
	want := StatePendingWait
	if hook == TerminateHookName {
		want = StateTerminatingWait
	}
	var in *instance
	for _, m := range g.members {
		if m.state == want && !m.frozen && (hook == LaunchHookName || hook == TerminateHookName) &&
			(id == "" || m.id == id) && (token == "" || m.token == token) {
			in = m
			break
		}
	}
	if in == nil {
		// AWS's text for an action that timed out, was completed, or never was.
		if token != "" {
			return nil, validation("No active Lifecycle Action found with token %s", token)
		}
		return nil, validation("No active Lifecycle Action found with instance ID %s", id)
	}
	if want == StatePendingWait {
		s.completeLaunchHook(g, in, result, now)
	} else {
		s.proceedTermination(in, now)
	}
	s.converge(g, now)
	// The output shape has no members: AWS answers an empty Result element.
	type res struct {
		XMLName xml.Name `xml:"CompleteLifecycleActionResult"`
	}
	return marshalResponse("CompleteLifecycleAction", reqID, res{})
}

// enterStandby answers EnterStandby: InService members go to Standby, where they are
// members but not capacity. With ShouldDecrementDesiredCapacity the desired capacity drops
// by their weight (refused below MinSize, in AWS's words); without it the group launches
// replacements.
func (s *Server) enterStandby(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	decrement, aerr := requiredBool(form, "ShouldDecrementDesiredCapacity", "shouldDecrementDesiredCapacity")
	if aerr != nil {
		return nil, aerr
	}
	ins, aerr := membersOf(g, form)
	if aerr != nil {
		return nil, aerr
	}
	var units int32
	for _, in := range ins {
		if in.state != StateInService || in.frozen {
			// Not a confirmed AWS text.
			return nil, validation("The instance %s is not in InService.", in.id)
		}
		units += in.capacity()
	}
	if decrement && g.desired-units < g.min {
		return nil, sizesError(g, "place into standby", len(ins))
	}
	var acts []*activity
	for _, in := range ins {
		from := g.capacity()
		cause := fmt.Sprintf("At %s instance %s was moved to standby in response to a user request.", awsTime(now), in.id)
		if decrement {
			cause = fmt.Sprintf("At %s instance %s was moved to standby in response to a user request, shrinking the capacity from %d to %d.",
				awsTime(now), in.id, from, from-in.capacity())
			g.cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
				awsTime(now), g.desired, g.desired-in.capacity())
			g.desired -= in.capacity()
		}
		in.setState(StateStandby, now)
		a := s.addActivity(g, now, "Moving EC2 instance to Standby: "+in.id, cause, fmt.Sprintf(`{"Availability Zone":"%s"}`, in.az))
		a.finish("Successful", now)
		acts = append(acts, a)
	}
	s.converge(g, now)
	return s.activitiesResponse("EnterStandby", reqID, acts)
}

// exitStandby answers ExitStandby: Standby members go to Pending, then InService after
// PendingDuration, and the desired capacity grows by their weight (refused above MaxSize,
// and while Launch is suspended, as AWS documents).
func (s *Server) exitStandby(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	ins, aerr := membersOf(g, form)
	if aerr != nil {
		return nil, aerr
	}
	if g.isSuspended(ProcessLaunch) {
		// AWS documents the refusal; its text is not confirmed.
		return nil, validation("Instances cannot exit standby while the Launch process is suspended for AutoScalingGroup %s.", g.name)
	}
	var units int32
	for _, in := range ins {
		if in.state != StateStandby || in.frozen {
			// Not a confirmed AWS text.
			return nil, validation("The instance %s is not in Standby.", in.id)
		}
		units += in.capacity()
	}
	if g.desired+units > g.max {
		return nil, sizesError(g, "exit standby", len(ins))
	}
	var acts []*activity
	for _, in := range ins {
		from := g.capacity()
		cause := fmt.Sprintf("At %s instance %s was moved out of standby in response to a user request, increasing the capacity from %d to %d.",
			awsTime(now), in.id, from, from+in.capacity())
		g.cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
			awsTime(now), g.desired, g.desired+in.capacity())
		g.desired += in.capacity()
		in.setState(StatePending, now)
		a := s.addActivity(g, now, "Moving EC2 instance out of Standby: "+in.id, cause, fmt.Sprintf(`{"Availability Zone":"%s"}`, in.az))
		a.status, a.progress = "PreInService", 30
		in.launchActivity = a
		acts = append(acts, a)
	}
	s.converge(g, now)
	return s.activitiesResponse("ExitStandby", reqID, acts)
}

// detachInstances answers DetachInstances: InService or Standby members go to Detaching,
// then leave the group after DetachingDuration, still running in EC2. With
// ShouldDecrementDesiredCapacity the desired capacity drops by the weight of the InService
// ones (refused below MinSize); without it the group launches replacements.
func (s *Server) detachInstances(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	decrement, aerr := requiredBool(form, "ShouldDecrementDesiredCapacity", "shouldDecrementDesiredCapacity")
	if aerr != nil {
		return nil, aerr
	}
	ins, aerr := membersOf(g, form)
	if aerr != nil {
		return nil, aerr
	}
	var units int32
	for _, in := range ins {
		switch {
		case in.frozen || (in.state != StateInService && in.state != StateStandby):
			// Not a confirmed AWS text.
			return nil, validation("The instance %s is not in a state from which it can be detached.", in.id)
		case in.state == StateInService:
			units += in.capacity()
		}
	}
	if decrement && g.desired-units < g.min {
		return nil, sizesError(g, "detach", len(ins))
	}
	var acts []*activity
	for _, in := range ins {
		from := g.capacity()
		cause := fmt.Sprintf("At %s instance %s was detached in response to a user request.", awsTime(now), in.id)
		if decrement && in.state == StateInService {
			cause = fmt.Sprintf("At %s instance %s was detached in response to a user request, shrinking the capacity from %d to %d.",
				awsTime(now), in.id, from, from-in.capacity())
			g.cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.",
				awsTime(now), g.desired, g.desired-in.capacity())
			g.desired -= in.capacity()
		}
		in.setState(StateDetaching, now)
		a := s.addActivity(g, now, "Detaching EC2 instance: "+in.id, cause, zoneDetails(in.az))
		a.progress = 50
		in.endActivity = a
		acts = append(acts, a)
	}
	s.converge(g, now)
	return s.activitiesResponse("DetachInstances", reqID, acts)
}

// suspendProcesses answers SuspendProcesses (suspend true) and ResumeProcesses: the named
// scaling processes, or all of them when none is named. While suspended, Launch stops
// launches (and ExitStandby), Terminate stops the group's own scale-in and health
// replacements, AZRebalance stops rebalancing, ReplaceUnhealthy stops health
// replacements; the others are only reported. Resuming lets the group catch up at once.
func (s *Server) suspendProcesses(form url.Values, now time.Time, reqID string, suspend bool) ([]byte, *apiError) {
	g, aerr := s.requiredGroup(form)
	if aerr != nil {
		return nil, aerr
	}
	procs := listParam(form, "ScalingProcesses.member")
	if len(procs) == 0 {
		procs = scalingProcesses
	}
	for _, p := range procs {
		if !slices.Contains(scalingProcesses, p) {
			// Not a confirmed AWS text.
			return nil, validation("Process %s is not a valid scaling process. Valid processes are: %s.", p, strings.Join(scalingProcesses, ", "))
		}
	}
	action := "ResumeProcesses"
	if suspend {
		action = "SuspendProcesses"
	}
	for _, p := range procs {
		if suspend {
			g.suspend(p, now)
		} else {
			g.resume(p)
		}
	}
	s.replaceUnhealthy(g, now)
	s.converge(g, now)
	return marshalResponse(action, reqID, nil)
}

// setInstanceHealth answers SetInstanceHealth (ShouldRespectGracePeriod is ignored: the
// fake has no grace period).
func (s *Server) setInstanceHealth(form url.Values, now time.Time, reqID string) ([]byte, *apiError) {
	id := form.Get("InstanceId")
	if id == "" {
		return nil, validation("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	status := form.Get("HealthStatus")
	if status == "" {
		return nil, validation("1 validation error detected: Value null at 'healthStatus' failed to satisfy constraint: Member must not be null")
	}
	if aerr := s.setHealth(id, status, now); aerr != nil {
		return nil, aerr
	}
	return marshalResponse("SetInstanceHealth", reqID, nil)
}
