package fakeaws

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Lifecycle states of group members, as Auto Scaling names them.
const (
	StatePending     = "Pending"
	StateInService   = "InService"
	StateTerminating = "Terminating"
)

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
	// overrides; launches cycle through them and each instance counts its weight.
	InstanceTypes []InstanceTypeWeight
	// SuspendedProcesses are suspended scaling process names ("AZRebalance"); reported only.
	SuspendedProcesses []string
	// NewInstancesProtectedFromScaleIn protects every launched instance from scale in.
	NewInstancesProtectedFromScaleIn bool
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
	suspended            []string
	protectNew           bool
	created              time.Time
	members              []*instance // launch order
	nextAZ, nextType     int
	launchFailures       int
	launchFailureMessage string
	retrying             bool // a launch failed and the next attempt is due at nextLaunch
	nextLaunch           time.Time
	cause                string // why desired last changed, for activity causes
	weighted             bool
}

// instance is one EC2 instance, a group member until it is gone.
type instance struct {
	id, group        string
	ip, dns          string
	az, instanceType string
	weight           int32 // 0 when unweighted
	state            string
	ec2State         string
	health           string
	protected        bool
	launched         time.Time
	inServiceSince   time.Time
	terminatingSince time.Time
	gone             bool
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.groups[c.Name]; dup {
		return fmt.Errorf("creating group %q: it exists", c.Name)
	}
	now := s.clock.Now()
	g := &group{
		name:         c.Name,
		arn:          fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", s.region, s.account, s.uuidLocked(), c.Name),
		min:          c.MinSize,
		max:          c.MaxSize,
		desired:      c.DesiredCapacity,
		azs:          append([]string(nil), c.AvailabilityZones...),
		instanceType: c.InstanceType,
		types:        append([]InstanceTypeWeight(nil), c.InstanceTypes...),
		suspended:    append([]string(nil), c.SuspendedProcesses...),
		protectNew:   c.NewInstancesProtectedFromScaleIn,
		created:      now,
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
		in := s.launch(g, now, 0)
		s.markInService(in, now)
	}
	return nil
}

// InjectLaunchFailures makes the next n launches of group fail with a Failed scaling
// activity carrying message (an EC2 insufficient-capacity text when empty). The group tries
// again after LaunchRetryInterval.
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

// capacity is the capacity of the members not terminating.
func (g *group) capacity() int32 {
	var n int32
	for _, in := range g.members {
		if in.state != StateTerminating {
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

// advance applies every lifecycle transition due by now and converges every group on its
// desired capacity, dating each event when it was due, so that a clock that jumped far
// ahead sees the same history as one that ticked. Called with s.mu.
func (s *Server) advance(now time.Time) {
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := s.groups[n]
		for {
			s.transitions(g, now)
			if !s.converge(g, now) {
				break
			}
		}
	}
}

// transitions moves g's members through the lifecycle states due by now.
func (s *Server) transitions(g *group, now time.Time) {
	kept := g.members[:0]
	for _, in := range g.members {
		if in.state == StatePending && !now.Before(in.launched.Add(s.pending)) {
			s.markInService(in, in.launched.Add(s.pending))
		}
		if in.state == StateTerminating && !now.Before(in.terminatingSince.Add(s.terminating)) {
			end := in.terminatingSince.Add(s.terminating)
			in.gone = true
			in.ec2State = "terminated"
			in.ip, in.dns = "", ""
			if a := in.endActivity; a != nil {
				a.status, a.progress, a.end = "Successful", 100, end
			}
			continue
		}
		kept = append(kept, in)
	}
	for i := len(kept); i < len(g.members); i++ {
		g.members[i] = nil
	}
	g.members = kept
}

// markInService moves a pending instance in service at t.
func (s *Server) markInService(in *instance, t time.Time) {
	in.state = StateInService
	in.ec2State = "running"
	in.inServiceSince = t
	if a := in.launchActivity; a != nil {
		a.status, a.progress, a.end = "Successful", 100, t
	}
}

// converge launches or terminates instances until the group's capacity meets its desired
// capacity, and reports whether it did anything. After a failed launch the next attempt is
// due LaunchRetryInterval later and is dated then. Called with s.mu.
func (s *Server) converge(g *group, now time.Time) bool {
	acted := false
	for g.capacity() < g.desired {
		at := now
		if g.retrying {
			if now.Before(g.nextLaunch) {
				return acted
			}
			at = g.nextLaunch
		}
		acted = true
		if g.launchFailures > 0 {
			g.launchFailures--
			s.failLaunch(g, at)
			g.retrying, g.nextLaunch = true, at.Add(s.launchRetry)
			continue
		}
		s.launch(g, at, g.capacity())
	}
	g.retrying = false
	for g.capacity() > g.desired {
		victim := s.defaultVictim(g)
		if victim == nil || g.capacity()-victim.capacity() < g.desired {
			return acted // every remaining instance is protected, or weights do not allow it
		}
		from := g.capacity()
		s.terminate(victim, now, fmt.Sprintf("%s At %s an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from %d to %d.",
			g.cause, awsTime(now), from, from-victim.capacity()))
		acted = true
	}
	return acted
}

// launch starts one instance in g at now; from is the capacity before it, for the cause.
func (s *Server) launch(g *group, now time.Time, from int32) *instance {
	az := g.azs[g.nextAZ%len(g.azs)]
	g.nextAZ++
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
		state:        StatePending,
		ec2State:     "pending",
		health:       "Healthy",
		protected:    g.protectNew,
		launched:     now,
	}
	w := in.capacity()
	in.launchActivity = s.addActivity(g, now,
		"Launching a new EC2 instance: "+in.id,
		fmt.Sprintf("%s At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.",
			g.cause, awsTime(now), from, from+w),
		fmt.Sprintf(`{"Subnet ID":"subnet-%s","Availability Zone":"%s"}`, strings.ReplaceAll(az, "-", ""), az))
	s.instances[in.id] = in
	g.members = append(g.members, in)
	return in
}

// failLaunch records a failed launch.
func (s *Server) failLaunch(g *group, now time.Time) {
	az := g.azs[g.nextAZ%len(g.azs)]
	itype := g.instanceType
	if len(g.types) > 0 {
		itype = g.types[g.nextType%len(g.types)].InstanceType
	}
	msg := g.launchFailureMessage
	if msg == "" {
		msg = fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "+
			"Our system will be working on provisioning additional capacity. Launching EC2 instance failed.", itype, az)
	}
	a := s.addActivity(g, now, "Launching a new EC2 instance.  Status Reason: "+msg,
		fmt.Sprintf("%s At %s an instance was started in response to a difference between desired and actual capacity, increasing the capacity from %d to %d.",
			g.cause, awsTime(now), g.capacity(), g.desired),
		fmt.Sprintf(`{"Subnet ID":"subnet-%s","Availability Zone":"%s"}`, strings.ReplaceAll(az, "-", ""), az))
	a.status, a.statusMessage, a.progress, a.end = "Failed", msg, 100, now
}

// terminate starts terminating in at now with cause.
func (s *Server) terminate(in *instance, now time.Time, cause string) *activity {
	g := s.groups[in.group]
	in.state = StateTerminating
	in.ec2State = "shutting-down"
	in.terminatingSince = now
	in.endActivity = s.addActivity(g, now, "Terminating EC2 instance: "+in.id, cause,
		fmt.Sprintf(`{"Subnet ID":"subnet-%s","Availability Zone":"%s"}`, strings.ReplaceAll(in.az, "-", ""), in.az))
	return in.endActivity
}

// defaultVictim picks the instance AWS's default termination policy would choose when the
// desired capacity is lowered: among instances not protected from scale in and not already
// terminating, the Availability Zone with the most of them (ties: zone name), then the
// oldest instance there. (AWS then looks at the oldest launch template and the next billing
// hour; every instance here has the same template.)
func (s *Server) defaultVictim(g *group) *instance {
	byAZ := map[string][]*instance{}
	for _, in := range g.members {
		if in.state != StateTerminating && !in.protected {
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
	// LifecycleState is StatePending, StateInService or StateTerminating.
	LifecycleState string
	// ProtectedFromScaleIn is the instance's scale-in protection.
	ProtectedFromScaleIn bool
	// LaunchTime is when the instance was launched, on the server clock.
	LaunchTime time.Time
	// InServiceSince is when the instance went in service; zero while Pending.
	InServiceSince time.Time
}

// GroupView is a snapshot of one group.
type GroupView struct {
	// Name is the group name.
	Name string
	// MinSize, MaxSize and DesiredCapacity are the group's bounds and target.
	MinSize, MaxSize, DesiredCapacity int32
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
	return GroupView{Name: g.name, MinSize: g.min, MaxSize: g.max, DesiredCapacity: g.desired, Instances: viewsOf(g)}, true
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
			ProtectedFromScaleIn: in.protected,
			LaunchTime:           in.launched,
			InServiceSince:       in.inServiceSince,
		}
	}
	return out
}
