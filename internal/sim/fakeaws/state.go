package fakeaws

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Lifecycle states of group members, as Auto Scaling names them.
const (
	StatePending            = "Pending"
	StatePendingWait        = "Pending:Wait"
	StatePendingProceed     = "Pending:Proceed"
	StateInService          = "InService"
	StateStandby            = "Standby"
	StateDetaching          = "Detaching"
	StateTerminating        = "Terminating"
	StateTerminatingWait    = "Terminating:Wait"
	StateTerminatingProceed = "Terminating:Proceed"
)

// Names of the lifecycle hooks a group gets from GroupConfig.LaunchHookTimeout and
// GroupConfig.TerminateHookTimeout, for CompleteLifecycleAction's LifecycleHookName.
const (
	LaunchHookName    = "mesos-agent-launch"
	TerminateHookName = "mesos-agent-drain"
)

// Results of a lifecycle action (CompleteLifecycleAction's LifecycleActionResult and
// GroupConfig.HookDefaultResult).
const (
	HookContinue = "CONTINUE"
	HookAbandon  = "ABANDON"
)

// Causes of TerminateOnItsOwn: why AWS terminates an instance without being asked.
const (
	// CauseAZRebalance is the AZRebalance process: AWS launches an instance in the zone with
	// the fewest instances, then terminates one elsewhere.
	CauseAZRebalance = "AZRebalance"
	// CauseHealthCheck is an EC2 health check finding the instance stopped or terminated:
	// AWS marks it Unhealthy, and the ReplaceUnhealthy process terminates and replaces it.
	CauseHealthCheck = "HealthCheck"
)

// Scaling processes the fake acts on (SuspendProcesses, GroupConfig.SuspendedProcesses).
const (
	ProcessLaunch           = "Launch"
	ProcessTerminate        = "Terminate"
	ProcessAZRebalance      = "AZRebalance"
	ProcessReplaceUnhealthy = "ReplaceUnhealthy"
)

// scalingProcesses are the process names SuspendProcesses accepts, as the API reference
// lists them.
var scalingProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
	"HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

// GroupConfig describes a group to create with CreateGroup.
type GroupConfig struct {
	// Name is the Auto Scaling group name.
	Name string
	// MinSize, MaxSize and DesiredCapacity are the group's bounds and target, in instances
	// (capacity units when InstanceTypes carry weights).
	MinSize, MaxSize, DesiredCapacity int32
	// AvailabilityZones are the zones instances are spread over, round-robin; the region's
	// zones a, b and c when empty.
	AvailabilityZones []string
	// InstanceType is the type of launched instances when InstanceTypes is empty;
	// "m5.xlarge" when empty.
	InstanceType string
	// InstanceTypes, when set, make the group report a mixed instances policy with these
	// overrides. Launches cycle through them in order, one instance per override, until the
	// group's capacity reaches its desired capacity, each instance counting its weight: from
	// nothing, overrides [weight 2, weight 1] and a desired capacity of 5 units launch a
	// weight-2, a weight-1 and a weight-2 instance (2+1+2 = 5). A launch may overshoot the
	// desired capacity by less than the largest weight, as AWS does. (AWS's "prioritized"
	// On-Demand strategy would launch the first override while it has capacity; the fake
	// cycles so that tests see mixed types.)
	InstanceTypes []InstanceTypeWeight
	// SuspendedProcesses are suspended scaling process names ("AZRebalance", "Terminate",
	// "Launch"), suspended when the group is created. See SuspendProcesses for their effect.
	SuspendedProcesses []string
	// NewInstancesProtectedFromScaleIn protects every launched instance from scale in.
	NewInstancesProtectedFromScaleIn bool
	// LaunchHookTimeout, when positive, gives the group a launch lifecycle hook
	// (LaunchHookName): a launched instance waits in Pending:Wait (EC2 already "running")
	// until CompleteLifecycleAction or this timeout, then spends PendingDuration in
	// Pending:Proceed before it is InService. Without a hook it spends PendingDuration in
	// Pending.
	LaunchHookTimeout time.Duration
	// TerminateHookTimeout, when positive, gives the group a terminate lifecycle hook
	// (TerminateHookName): a terminated instance waits in Terminating:Wait (EC2 still
	// "running") until CompleteLifecycleAction or this timeout, then spends
	// TerminatingDuration in Terminating:Proceed ("shutting-down") before it is gone. Without
	// a hook it spends TerminatingDuration in Terminating.
	TerminateHookTimeout time.Duration
	// HookDefaultResult is the result of a hook whose timeout expires: HookContinue (the
	// default) or HookAbandon. An abandoned launch is Cancelled and its instance terminated;
	// an abandoned termination proceeds all the same.
	HookDefaultResult string
}

// InstanceTypeWeight is one override of a mixed instances policy.
type InstanceTypeWeight struct {
	// InstanceType is the EC2 instance type ("m5.2xlarge").
	InstanceType string
	// WeightedCapacity is the capacity units one instance counts for; 0 reports no weight
	// (counted as 1).
	WeightedCapacity int32
}

// group is the state of one Auto Scaling group.
type group struct {
	name                 string
	arn                  string
	min, max, desired    int32
	azs                  []string
	instanceType         string
	types                []InstanceTypeWeight
	suspended            []suspension
	protectNew           bool
	created              time.Time
	members              []*instance // launch order
	nextAZ, nextType     int
	launchFailures       int
	launchFailureMessage string
	cancelLaunches       int
	retrying             bool // a launch failed and the next attempt is due at nextLaunch
	nextLaunch           time.Time
	cause                string // why desired last changed, for activity causes
	weighted             bool
	launchHook           time.Duration
	terminateHook        time.Duration
	hookDefault          string
}

// suspension is one suspended scaling process.
type suspension struct {
	process string
	at      time.Time
}

// instance is one EC2 instance, a group member until it is gone or detached.
type instance struct {
	id, group        string
	ip, dns          string
	az, instanceType string
	weight           int32 // 0 when unweighted
	state            string
	since            time.Time // when state was entered
	deadline         time.Time // when a lifecycle hook wait times out
	token            string    // the lifecycle action token of a hook wait
	frozen           bool      // state forced by SetLifecycleState: no transition applies
	ec2State         string
	health           string
	unhealthyCause   string // what marked it Unhealthy, for the termination's cause
	protected        bool
	launched         time.Time
	inServiceSince   time.Time
	gone             bool // terminated
	detached         bool // left the group by DetachInstances, still running
	launchActivity   *activity
	endActivity      *activity
}

// capacity is the capacity units the instance counts for.
func (in *instance) capacity() int32 {
	if in.weight > 0 {
		return in.weight
	}
	return 1
}

// counts reports whether the instance counts toward the group's desired capacity: it is
// launching or in service. Standby, Detaching and Terminating* instances do not.
func (in *instance) counts() bool {
	switch in.state {
	case StatePending, StatePendingWait, StatePendingProceed, StateInService:
		return true
	}
	return false
}

// activity is one scaling activity.
type activity struct {
	id, group     string
	description   string
	cause         string
	details       string
	status        string
	statusMessage string
	progress      int32
	start, end    time.Time
}

// finish ends a with status at t.
func (a *activity) finish(status string, t time.Time) {
	if a != nil {
		a.status, a.progress, a.end = status, 100, t
	}
}

// CreateGroup adds a group whose initial DesiredCapacity instances are already InService
// (an existing group), launched at the current clock time.
func (s *Server) CreateGroup(c GroupConfig) error {
	if c.Name == "" {
		return fmt.Errorf("creating group: empty name")
	}
	if c.MinSize < 0 || c.MinSize > c.MaxSize || c.DesiredCapacity < c.MinSize || c.DesiredCapacity > c.MaxSize {
		return fmt.Errorf("creating group %q: inconsistent bounds: MinSize %d, DesiredCapacity %d, MaxSize %d",
			c.Name, c.MinSize, c.DesiredCapacity, c.MaxSize)
	}
	switch c.HookDefaultResult {
	case "", HookContinue, HookAbandon:
	default:
		return fmt.Errorf("creating group %q: HookDefaultResult %q is neither %s nor %s", c.Name, c.HookDefaultResult, HookContinue, HookAbandon)
	}
	for _, p := range c.SuspendedProcesses {
		if !slices.Contains(scalingProcesses, p) {
			return fmt.Errorf("creating group %q: unknown scaling process %q", c.Name, p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.groups[c.Name]; dup {
		return fmt.Errorf("creating group %q: it exists", c.Name)
	}
	now := s.clock.Now()
	g := &group{
		name:          c.Name,
		arn:           fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", s.region, s.account, s.uuidLocked(), c.Name),
		min:           c.MinSize,
		max:           c.MaxSize,
		desired:       c.DesiredCapacity,
		azs:           append([]string(nil), c.AvailabilityZones...),
		instanceType:  c.InstanceType,
		types:         append([]InstanceTypeWeight(nil), c.InstanceTypes...),
		protectNew:    c.NewInstancesProtectedFromScaleIn,
		created:       now,
		launchHook:    c.LaunchHookTimeout,
		terminateHook: c.TerminateHookTimeout,
		hookDefault:   c.HookDefaultResult,
	}
	if g.hookDefault == "" {
		g.hookDefault = HookContinue
	}
	for _, p := range c.SuspendedProcesses {
		g.suspend(p, now)
	}
	if len(g.azs) == 0 {
		g.azs = []string{s.region + "a", s.region + "b", s.region + "c"}
	}
	if g.instanceType == "" {
		g.instanceType = "m5.xlarge"
	}
	for _, t := range g.types {
		if t.WeightedCapacity > 0 {
			g.weighted = true
		}
	}
	g.cause = fmt.Sprintf("At %s a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.", awsTime(now), c.DesiredCapacity)
	s.groups[c.Name] = g
	for g.capacity() < g.desired {
		in := s.launch(g, now, s.nextZone(g), s.differenceCause(g, now))
		s.markInService(in, now)
	}
	return nil
}

// InjectLaunchFailures makes the next n launches of group (every launch, until the next
// call, when n is negative) fail with a Failed scaling activity whose StatusMessage is
// message followed by " Launching EC2 instance failed.", as AWS words it; message is EC2's
// insufficient-capacity text for the instance type and zone when empty. No instance is
// started. The group tries again every LaunchRetryInterval, each time in the next zone,
// while its capacity is below its desired capacity.
func (s *Server) InjectLaunchFailures(groupName string, n int, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupName]
	if !ok {
		return fmt.Errorf("injecting launch failures: no group %q", groupName)
	}
	g.launchFailures = n
	g.launchFailureMessage = message
	return nil
}

// InjectCancelledLaunches makes the next n launches of group Cancelled, as when a launch
// lifecycle hook is abandoned: the instance is started, its launch activity ends Cancelled
// with AWS's "Lifecycle Action Completed with ABANDON Result" message and names it, and it
// is terminated at once. The group tries again after LaunchRetryInterval.
func (s *Server) InjectCancelledLaunches(groupName string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupName]
	if !ok {
		return fmt.Errorf("injecting cancelled launches: no group %q", groupName)
	}
	g.cancelLaunches = n
	return nil
}

// capacity is the capacity of the members that count toward the desired capacity.
func (g *group) capacity() int32 {
	var n int32
	for _, in := range g.members {
		if in.counts() {
			n += in.capacity()
		}
	}
	return n
}

// member returns the group's member with id, nil when none.
func (g *group) member(id string) *instance {
	for _, in := range g.members {
		if in.id == id {
			return in
		}
	}
	return nil
}

// remove drops in from the members.
func (g *group) remove(in *instance) {
	g.members = slices.DeleteFunc(g.members, func(m *instance) bool { return m == in })
}

// isSuspended reports whether process is suspended.
func (g *group) isSuspended(process string) bool {
	return slices.ContainsFunc(g.suspended, func(p suspension) bool { return p.process == process })
}

// suspend suspends process at t, unless it is already.
func (g *group) suspend(process string, t time.Time) {
	if !g.isSuspended(process) {
		g.suspended = append(g.suspended, suspension{process: process, at: t})
	}
}

// resume resumes process.
func (g *group) resume(process string) {
	g.suspended = slices.DeleteFunc(g.suspended, func(p suspension) bool { return p.process == process })
}

// suspendedNames returns the names of the suspended processes.
func (g *group) suspendedNames() []string {
	var out []string
	for _, p := range g.suspended {
		out = append(out, p.process)
	}
	return out
}

// advance applies every lifecycle transition due by now, in time order, and converges
// every group on its desired capacity after each, dating each event when it was due, so
// that a clock that jumped far ahead sees the same history as one that ticked. Called
// with s.mu.
func (s *Server) advance(now time.Time) {
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := s.groups[n]
		for {
			in, at := s.nextDue(g, now)
			if in == nil {
				break
			}
			s.step(g, in, at)
			s.replaceUnhealthy(g, at)
			s.converge(g, at)
		}
		s.replaceUnhealthy(g, now)
		s.converge(g, now)
	}
}

// due returns when in's current state ends on its own; false when it does not.
func (s *Server) due(in *instance) (time.Time, bool) {
	if in.frozen {
		return time.Time{}, false
	}
	switch in.state {
	case StatePending, StatePendingProceed:
		return in.since.Add(s.pending), true
	case StatePendingWait, StateTerminatingWait:
		return in.deadline, true
	case StateTerminating, StateTerminatingProceed:
		return in.since.Add(s.terminating), true
	case StateDetaching:
		return in.since.Add(s.detaching), true
	}
	return time.Time{}, false
}

// nextDue returns the member of g whose transition is due first, by now, and when; nil
// when none is due.
func (s *Server) nextDue(g *group, now time.Time) (*instance, time.Time) {
	var first *instance
	var at time.Time
	for _, in := range g.members {
		t, ok := s.due(in)
		if !ok || t.After(now) {
			continue
		}
		if first == nil || t.Before(at) {
			first, at = in, t
		}
	}
	return first, at
}

// step applies in's due transition at t.
func (s *Server) step(g *group, in *instance, t time.Time) {
	switch in.state {
	case StatePending, StatePendingProceed:
		s.markInService(in, t)
	case StatePendingWait:
		s.completeLaunchHook(g, in, g.hookDefault, t)
	case StateTerminatingWait:
		s.proceedTermination(in, t)
	case StateTerminating, StateTerminatingProceed:
		in.gone = true
		in.ec2State = "terminated"
		in.ip, in.dns = "", ""
		in.endActivity.finish("Successful", t)
		g.remove(in)
	case StateDetaching:
		in.detached = true
		in.endActivity.finish("Successful", t)
		g.remove(in)
	}
}

// setState moves in to state at t.
func (in *instance) setState(state string, t time.Time) {
	in.state, in.since = state, t
}

// markInService moves a launching instance in service at t.
func (s *Server) markInService(in *instance, t time.Time) {
	in.setState(StateInService, t)
	in.ec2State = "running"
	in.inServiceSince = t
	in.launchActivity.finish("Successful", t)
}

// completeLaunchHook ends the launch lifecycle action of in (Pending:Wait) at t with
// result: CONTINUE moves it to Pending:Proceed, ABANDON cancels the launch.
func (s *Server) completeLaunchHook(g *group, in *instance, result string, t time.Time) {
	if result == HookAbandon {
		s.abandonLaunch(g, in, t)
		return
	}
	in.setState(StatePendingProceed, t)
	in.token = ""
}

// abandonLaunch cancels the launch of in at t, as AWS does when a launch lifecycle action
// is abandoned: the launch activity ends Cancelled and the instance is terminated (without
// the terminate hook).
func (s *Server) abandonLaunch(g *group, in *instance, t time.Time) {
	token := in.token
	if token == "" {
		token = s.uuidLocked()
	}
	msg := fmt.Sprintf("Instance failed to complete user's Lifecycle Action: Lifecycle Action with token %s was abandoned: Lifecycle Action Completed with ABANDON Result", token)
	if a := in.launchActivity; a != nil {
		a.description = fmt.Sprintf("Launching a new EC2 instance: %s.  Status Reason: %s", in.id, msg)
		a.statusMessage = msg
		a.finish("Cancelled", t)
	}
	in.token = ""
	in.setState(StateTerminating, t)
	in.ec2State = "shutting-down"
}

// proceedTermination ends the terminate lifecycle action of in (Terminating:Wait) at t:
// whatever the result, the instance shuts down.
func (s *Server) proceedTermination(in *instance, t time.Time) {
	in.setState(StateTerminatingProceed, t)
	in.token = ""
	in.ec2State = "shutting-down"
}

// converge launches or terminates instances until the group's capacity meets its desired
// capacity, as the Launch and Terminate processes allow. After a failed or cancelled
// launch the next attempt is due LaunchRetryInterval later and is dated then. Called with
// s.mu.
func (s *Server) converge(g *group, now time.Time) {
	if !g.isSuspended(ProcessLaunch) {
	launching:
		for g.capacity() < g.desired {
			at := now
			if g.retrying {
				if now.Before(g.nextLaunch) {
					break launching
				}
				at = g.nextLaunch
			}
			switch {
			case g.launchFailures != 0:
				if g.launchFailures > 0 {
					g.launchFailures--
				}
				s.failLaunch(g, at)
				g.retrying, g.nextLaunch = true, at.Add(s.launchRetry)
			case g.cancelLaunches > 0:
				g.cancelLaunches--
				in := s.launch(g, at, s.nextZone(g), s.differenceCause(g, at))
				s.abandonLaunch(g, in, at)
				g.retrying, g.nextLaunch = true, at.Add(s.launchRetry)
			default:
				s.launch(g, at, s.nextZone(g), s.differenceCause(g, at))
			}
		}
		if g.capacity() >= g.desired {
			g.retrying = false
		}
	}
	if g.isSuspended(ProcessTerminate) {
		return
	}
	for g.capacity() > g.desired {
		victim := s.defaultVictim(g)
		if victim == nil || g.capacity()-victim.capacity() < g.desired {
			return // every remaining instance is protected, or weights do not allow it
		}
		from := g.capacity()
		s.terminate(victim, now, fmt.Sprintf("%s At %s an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d.",
			g.cause, awsTime(now), from, from-victim.capacity()))
	}
}

// replaceUnhealthy terminates the InService members marked Unhealthy, as the
// ReplaceUnhealthy process does (converge then launches their replacements); it does
// nothing while ReplaceUnhealthy or Terminate is suspended.
func (s *Server) replaceUnhealthy(g *group, now time.Time) {
	if g.isSuspended(ProcessReplaceUnhealthy) || g.isSuspended(ProcessTerminate) {
		return
	}
	for _, in := range slices.Clone(g.members) {
		if in.state == StateInService && in.health == "Unhealthy" {
			s.terminate(in, now, fmt.Sprintf("At %s an instance was taken out of service in response to %s.", awsTime(now), in.unhealthyCause))
		}
	}
}

// nextZone returns the zone of the next launch, round-robin.
func (s *Server) nextZone(g *group) string {
	az := g.azs[g.nextAZ%len(g.azs)]
	g.nextAZ++
	return az
}

// differenceCause returns the cause of a launch that fills the gap between the desired and
// the actual capacity, given the weight w of the instance launched.
func (s *Server) differenceCause(g *group, now time.Time) func(w int32) string {
	from := g.capacity()
	return func(w int32) string {
		return fmt.Sprintf("%s At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.",
			g.cause, awsTime(now), from, from+w)
	}
}

// launch starts one instance in g, in zone az, at now; cause words the activity's cause
// from the instance's weight.
func (s *Server) launch(g *group, now time.Time, az string, cause func(w int32) string) *instance {
	itype, weight := g.instanceType, int32(0)
	if len(g.types) > 0 {
		t := g.types[g.nextType%len(g.types)]
		g.nextType++
		itype, weight = t.InstanceType, t.WeightedCapacity
	}
	ip := s.nextIP()
	in := &instance{
		id:           s.instanceIDLocked(),
		group:        g.name,
		ip:           ip,
		dns:          s.dnsName(ip),
		az:           az,
		instanceType: itype,
		weight:       weight,
		ec2State:     "pending",
		health:       "Healthy",
		protected:    g.protectNew,
		launched:     now,
	}
	in.setState(StatePending, now)
	if g.launchHook > 0 {
		in.setState(StatePendingWait, now)
		in.deadline = now.Add(g.launchHook)
		in.token = s.uuidLocked()
		in.ec2State = "running"
	}
	in.launchActivity = s.addActivity(g, now, "Launching a new EC2 instance: "+in.id, cause(in.capacity()), zoneDetails(az))
	s.instances[in.id] = in
	g.members = append(g.members, in)
	return in
}

// zoneDetails is an activity's Details for a zone.
func zoneDetails(az string) string {
	return fmt.Sprintf(`{"Subnet ID":"subnet-%s","Availability Zone":"%s"}`, strings.ReplaceAll(az, "-", ""), az)
}

// failLaunch records a failed launch in the next zone; the attempt after it goes to the
// zone after.
func (s *Server) failLaunch(g *group, now time.Time) {
	az := s.nextZone(g)
	itype := g.instanceType
	if len(g.types) > 0 {
		itype = g.types[g.nextType%len(g.types)].InstanceType
	}
	reason := g.launchFailureMessage
	if reason == "" {
		// EC2's InsufficientInstanceCapacity text.
		var others []string
		for _, z := range g.azs {
			if z != az {
				others = append(others, z)
			}
		}
		reason = fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "+
			"Our system will be working on provisioning additional capacity.", itype, az)
		if len(others) > 0 {
			reason += fmt.Sprintf(" You can currently get %s capacity by not specifying an Availability Zone in your request or choosing %s.",
				itype, strings.Join(others, ", "))
		}
	}
	msg := reason + " Launching EC2 instance failed."
	from := g.capacity()
	a := s.addActivity(g, now, "Launching a new EC2 instance.  Status Reason: "+msg,
		fmt.Sprintf("%s At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.",
			g.cause, awsTime(now), from, g.desired),
		zoneDetails(az))
	a.statusMessage = msg
	a.finish("Failed", now)
}

// terminate starts terminating in at now with cause, through the terminate lifecycle hook
// when the group has one, and returns the activity.
func (s *Server) terminate(in *instance, now time.Time, cause string) *activity {
	g := s.groups[in.group]
	if g.terminateHook > 0 {
		in.setState(StateTerminatingWait, now)
		in.deadline = now.Add(g.terminateHook)
		in.token = s.uuidLocked()
	} else {
		in.setState(StateTerminating, now)
		in.ec2State = "shutting-down"
	}
	in.endActivity = s.addActivity(g, now, "Terminating EC2 instance: "+in.id, cause, zoneDetails(in.az))
	return in.endActivity
}

// defaultVictim picks the instance AWS's default termination policy would choose when the
// desired capacity is lowered: among instances counting toward the desired capacity and
// not protected from scale in, the Availability Zone with the most of them (ties: zone
// name), then the oldest instance there. (AWS then looks at the oldest launch template and
// the next billing hour; every instance here has the same template.)
func (s *Server) defaultVictim(g *group) *instance {
	byAZ := map[string][]*instance{}
	for _, in := range g.members {
		if in.counts() && !in.protected && !in.frozen {
			byAZ[in.az] = append(byAZ[in.az], in)
		}
	}
	var zone string
	for az, ins := range byAZ {
		if zone == "" || len(ins) > len(byAZ[zone]) || (len(ins) == len(byAZ[zone]) && az < zone) {
			zone = az
		}
	}
	if zone == "" {
		return nil
	}
	oldest := byAZ[zone][0]
	for _, in := range byAZ[zone][1:] {
		if in.launched.Before(oldest.launched) {
			oldest = in
		}
	}
	return oldest
}

// TerminateOnItsOwn makes AWS terminate the InService member instanceID of group for
// cause, as it does without being asked, and replace it:
//
//   - CauseAZRebalance: AWS first launches an instance in the zone (other than the
//     victim's) with the fewest instances, with the cause "At T availability zones Z1 Z2
//     had N1 N2 instances respectively. An instance was launched to aid in balancing the
//     group's zones.", then terminates the victim with the cause "At T instances were
//     launched to balance instances in zones ... with other zones resulting in more than
//     desired number of instances in the group. At T an instance was taken out of service
//     in response to a difference between desired and actual capacity, shrinking the
//     capacity from N+1 to N. At T instance i-... was selected for termination." It is
//     refused while AZRebalance or Launch is suspended; while Terminate is suspended the
//     launch happens and the victim stays (the group stays above its desired capacity).
//   - CauseHealthCheck: an EC2 health check finds the instance stopped; AWS marks it
//     Unhealthy and, unless ReplaceUnhealthy or Terminate is suspended, terminates it with
//     the cause "At T an instance was taken out of service in response to an EC2 health
//     check indicating it has been terminated or stopped." and launches a replacement.
//
// The desired capacity does not change. A terminate lifecycle hook applies.
func (s *Server) TerminateOnItsOwn(groupName, instanceID, cause string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advance(now)
	g, ok := s.groups[groupName]
	if !ok {
		return fmt.Errorf("terminating %s on AWS's own: no group %q", instanceID, groupName)
	}
	in := g.member(instanceID)
	if in == nil || in.state != StateInService {
		return fmt.Errorf("terminating %s on AWS's own: not an InService member of group %q", instanceID, groupName)
	}
	switch cause {
	case CauseAZRebalance:
		for _, p := range []string{ProcessAZRebalance, ProcessLaunch} {
			if g.isSuspended(p) {
				return fmt.Errorf("rebalancing group %q: the %s process is suspended", groupName, p)
			}
		}
		counts := map[string]int{}
		for _, m := range g.members {
			if m.counts() {
				counts[m.az]++
			}
		}
		zone := ""
		var zones, ns []string
		for _, az := range g.azs {
			zones = append(zones, az)
			ns = append(ns, fmt.Sprint(counts[az]))
			if az != in.az && (zone == "" || counts[az] < counts[zone]) {
				zone = az
			}
		}
		if zone == "" {
			return fmt.Errorf("rebalancing group %q: it has one Availability Zone", groupName)
		}
		s.launch(g, now, zone, func(int32) string {
			return fmt.Sprintf("At %s availability zones %s had %s instances respectively. An instance was launched to aid in balancing the group's zones.",
				awsTime(now), strings.Join(zones, " "), strings.Join(ns, " "))
		})
		if g.isSuspended(ProcessTerminate) {
			return nil
		}
		from := g.capacity()
		s.terminate(in, now, fmt.Sprintf("At %s instances were launched to balance instances in zones %s with other zones resulting in more than desired number of instances in the group. "+
			"At %s an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d. "+
			"At %s instance %s was selected for termination.",
			awsTime(now), strings.Join(zones, " "), awsTime(now), from, from-in.capacity(), awsTime(now), in.id))
	case CauseHealthCheck:
		in.health = "Unhealthy"
		in.unhealthyCause = "an EC2 health check indicating it has been terminated or stopped"
		in.ec2State = "stopped"
		s.replaceUnhealthy(g, now)
	default:
		return fmt.Errorf("terminating %s on AWS's own: unknown cause %q (want %s or %s)", instanceID, cause, CauseAZRebalance, CauseHealthCheck)
	}
	s.converge(g, now)
	return nil
}

// SetHealth sets the health status of instance instanceID to "Healthy" or "Unhealthy", as
// SetInstanceHealth does. An Unhealthy InService instance is terminated with the cause "At
// T an instance was taken out of service in response to a user health-check." and
// replaced, unless ReplaceUnhealthy or Terminate is suspended (then when they resume).
func (s *Server) SetHealth(instanceID, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advance(now)
	if aerr := s.setHealth(instanceID, status, now); aerr != nil {
		return fmt.Errorf("setting the health of %s: %s", instanceID, aerr.message)
	}
	return nil
}

// setHealth sets the health of a member and lets the group act on it. Called with s.mu.
func (s *Server) setHealth(id, status string, now time.Time) *apiError {
	if status != "Healthy" && status != "Unhealthy" {
		// Not a confirmed AWS text.
		return validation("Valid instance health states are: [Healthy, Unhealthy].")
	}
	in, ok := s.instances[id]
	if !ok || in.gone || in.detached {
		return validation("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	g := s.groups[in.group]
	in.health = status
	if status == "Unhealthy" {
		in.unhealthyCause = "a user health-check"
	}
	s.replaceUnhealthy(g, now)
	s.converge(g, now)
	return nil
}

// SetLifecycleState forces the lifecycle state the fake reports for member instanceID to
// state, verbatim ("Warmed:Running", "Quarantined", an unknown state), and freezes it
// there: no transition applies to it any more. It is a test hook for states the fake does
// not otherwise produce. The group treats the instance as AWS would: it counts toward the
// desired capacity only in Pending*, InService states, so the group may launch a
// replacement. (AWS reports warm-pool instances with DescribeWarmPool, not among the
// group's Instances; the fake has no warm pool.)
func (s *Server) SetLifecycleState(instanceID, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advance(now)
	in, ok := s.instances[instanceID]
	if !ok || in.gone || in.detached {
		return fmt.Errorf("setting the lifecycle state of %s: not a group member", instanceID)
	}
	in.setState(state, now)
	in.frozen = true
	s.converge(s.groups[in.group], now)
	return nil
}

// addActivity records a new InProgress activity of g.
func (s *Server) addActivity(g *group, now time.Time, description, cause, details string) *activity {
	a := &activity{
		id:          s.uuidLocked(),
		group:       g.name,
		description: description,
		cause:       cause,
		details:     details,
		status:      "InProgress",
		start:       now,
	}
	s.activities = append(s.activities, a)
	return a
}

// nextIP allocates a private address from 10.0.0.0/16, skipping .0 and .255 hosts.
func (s *Server) nextIP() string {
	for {
		s.ipSeq++
		lo := s.ipSeq % 256
		if lo != 0 && lo != 255 {
			break
		}
	}
	return fmt.Sprintf("10.0.%d.%d", (s.ipSeq/256)%256, s.ipSeq%256)
}

// dnsName is the EC2 private DNS name of ip in the region.
func (s *Server) dnsName(ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if s.region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + s.region + ".compute.internal"
}

// instanceIDLocked returns a new instance id ("i-0a1b2c3d4e5f60001").
func (s *Server) instanceIDLocked() string {
	s.seq++
	return fmt.Sprintf("i-0%016x", 0xa1b2c3d400000000+s.seq)
}

// uuidLocked returns a new UUID-shaped id.
func (s *Server) uuidLocked() string {
	s.seq++
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", 0x5ca1e000+s.seq, s.seq&0xffff, s.seq&0xfff, s.seq&0xfff, s.seq)
}

// awsTime formats t as AWS does in XML and causes: UTC, milliseconds, "Z".
func awsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// InstanceView is what the simulated Mesos master and tests see of one group member.
type InstanceView struct {
	// ID is the EC2 instance id.
	ID string
	// Group is the Auto Scaling group name.
	Group string
	// PrivateIP is the instance's private IPv4 address ("10.0.0.10").
	PrivateIP string
	// PrivateDNSName is the instance's private DNS name ("ip-10-0-0-10.ec2.internal").
	PrivateDNSName string
	// AvailabilityZone is the instance's zone.
	AvailabilityZone string
	// InstanceType is the EC2 instance type.
	InstanceType string
	// WeightedCapacity is the capacity units the instance counts for (1 when unweighted).
	WeightedCapacity int32
	// LifecycleState is the instance's Auto Scaling lifecycle state (StatePending,
	// StatePendingWait, StateInService, StateStandby, StateTerminatingWait, ...).
	LifecycleState string
	// HealthStatus is "Healthy" or "Unhealthy".
	HealthStatus string
	// EC2State is the instance's EC2 state ("pending", "running", "shutting-down",
	// "stopped").
	EC2State string
	// ProtectedFromScaleIn is the instance's scale-in protection.
	ProtectedFromScaleIn bool
	// LaunchTime is when the instance was launched, on the server clock.
	LaunchTime time.Time
	// InServiceSince is when the instance last went in service; zero before.
	InServiceSince time.Time
}

// GroupView is a snapshot of one group.
type GroupView struct {
	// Name is the group name.
	Name string
	// MinSize, MaxSize and DesiredCapacity are the group's bounds and target.
	MinSize, MaxSize, DesiredCapacity int32
	// SuspendedProcesses are the names of the suspended scaling processes, in the order
	// they were suspended.
	SuspendedProcesses []string
	// Instances are the members, Terminating ones included, in launch order.
	Instances []InstanceView
}

// Group returns a snapshot of the named group at the current clock time; false when there
// is no such group.
func (s *Server) Group(name string) (GroupView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	g, ok := s.groups[name]
	if !ok {
		return GroupView{}, false
	}
	return GroupView{Name: g.name, MinSize: g.min, MaxSize: g.max, DesiredCapacity: g.desired,
		SuspendedProcesses: g.suspendedNames(), Instances: viewsOf(g)}, true
}

// GroupNames returns the names of the groups, sorted.
func (s *Server) GroupNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Instances returns the members of the named group at the current clock time (Terminating
// ones included), in launch order; nil when there is no such group.
func (s *Server) Instances(groupName string) []InstanceView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
	g, ok := s.groups[groupName]
	if !ok {
		return nil
	}
	return viewsOf(g)
}

// viewsOf copies g's members out. Called with s.mu.
func viewsOf(g *group) []InstanceView {
	out := make([]InstanceView, len(g.members))
	for i, in := range g.members {
		out[i] = InstanceView{
			ID:                   in.id,
			Group:                g.name,
			PrivateIP:            in.ip,
			PrivateDNSName:       in.dns,
			AvailabilityZone:     in.az,
			InstanceType:         in.instanceType,
			WeightedCapacity:     in.capacity(),
			LifecycleState:       in.state,
			HealthStatus:         in.health,
			EC2State:             in.ec2State,
			ProtectedFromScaleIn: in.protected,
			LaunchTime:           in.launched,
			InServiceSince:       in.inServiceSince,
		}
	}
	return out
}
