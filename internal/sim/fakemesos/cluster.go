// Package fakemesos simulates the Mesos side of a cluster for tests, the embedded demo and
// benchmarks: a leading and a standby Mesos master serving GET /master/state in the Mesos 1.x
// shape, GET /master/redirect and the maintenance endpoints (schedule, status, machine down and
// up; see maintenance.go), and a Marathon serving GET /v2/queue and GET /v2/apps.
//
// Agents come from a machine source (usually the fake AWS endpoint, see FromFakeAWS): a machine
// that has been InService for the registration delay is a registered agent, and a machine that
// is gone or no longer InService takes its agent and its tasks with it. A workload of Marathon
// applications, whose instance counts follow schedules, places tasks first-fit on the agents;
// what does not fit waits in Marathon's launch queue.
//
// Nothing advances by itself: every request and every inspection evaluates the state at the
// injected clock's current time, so a FakeClock compresses minutes into an instant. The package
// makes no scaling decision and talks to no real Mesos or AWS.
package fakemesos

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// Defaults of Options.
const (
	// DefaultRegistrationDelay is the time from InService to agent registration: instance
	// boot, agent start and registration with the master.
	DefaultRegistrationDelay = 60 * time.Second
	// DefaultClusterID is the master id, prefix of agent and framework ids.
	DefaultClusterID = "5ca1ab1e-0000-4000-8000-000000000001"
	// DefaultClusterName is the cluster name the master reports ("cluster").
	DefaultClusterName = "lambdascale-sim"
	// DefaultDrainMoveAfter is how long Marathon takes to move a task off a DRAINING agent.
	DefaultDrainMoveAfter = 60 * time.Second
)

// What every simulated agent reports.
const (
	// AgentVersion is the Mesos version agents and masters report.
	AgentVersion = "1.11.0"
	// AgentPort is the port in agent pids ("slave(1)@10.0.0.10:5051").
	AgentPort = 5051
	// AgentPorts is the port range every agent offers (the Mesos default, [31000-32000]).
	AgentPorts = "[31000-32000]"
)

// maxCompletedTasks is how many finished tasks the Marathon framework lists; Mesos keeps up to
// 1,000 (--max_completed_tasks_per_framework), a few are enough to exercise decoders.
const maxCompletedTasks = 10

// DefaultShape is the agent resources of an instance type missing from Options.Shapes: 8 cores,
// 30,720 MiB of memory and 94,000 MiB of disk.
var DefaultShape = mesos.Resources{CPUs: 8, Mem: 30720, Disk: 94000}

// DefaultExecutorOverhead is what Mesos adds to an agent's used resources for the command
// executor of each task: 0.1 cores and 32 MiB (mesos::internal::slave::DEFAULT_EXECUTOR_CPUS
// and DEFAULT_EXECUTOR_MEM).
var DefaultExecutorOverhead = mesos.Resources{CPUs: 0.1, Mem: 32}

// Machine is one cloud instance that runs, or will run, a Mesos agent.
type Machine struct {
	// InstanceID is the cloud instance id ("i-0a1b2c3d4e5f60001"); it identifies the machine.
	InstanceID string
	// Group is the Auto Scaling group the instance belongs to.
	Group string
	// PrivateIP is the instance's private IPv4 address, used in the agent pid.
	PrivateIP string
	// Hostname is the hostname the agent registers with; PrivateIP when empty (DC/OS agents
	// register with their IP).
	Hostname string
	// InstanceType is the EC2 instance type ("m5.2xlarge"), which selects the agent shape.
	InstanceType string
	// InService is true while the instance is InService in its group.
	InService bool
	// InServiceSince is when the instance went InService. The zero time means "since before
	// the cluster started": such a machine registers as soon as it is seen.
	InServiceSince time.Time
}

// Step is one point of an application's schedule.
type Step struct {
	// At is the time since the cluster's start (its clock at New) from which Instances holds.
	At time.Duration
	// Instances is the number of tasks the application wants from At on.
	Instances int
}

// Application is one Marathon application of the workload.
type Application struct {
	// ID is the Marathon app id, with its group path ("/web/api").
	ID string
	// CPUs is the cores per task.
	CPUs float64
	// MemMiB is the memory per task, in MiB.
	MemMiB float64
	// DiskMiB is the disk per task, in MiB.
	DiskMiB float64
	// Schedule lists the wanted instance counts by time, in increasing At order. At time t the
	// wanted count is that of the last step with At ≤ t; 0 before the first step.
	Schedule []Step
	// Constraints are Marathon placement constraints as [field, operator, value?]: the
	// supported ones are ["hostname", "UNIQUE"] and [attribute, "CLUSTER" or "LIKE", value]
	// (LIKE takes a regular expression matched against the whole attribute value).
	Constraints [][]string
	// IgnoresInverseOffers keeps the application's tasks on DRAINING agents (Mesos maintenance)
	// until their machine goes DOWN, where they are lost; other applications' tasks move to
	// other agents Options.DrainMoveAfter after their agent started draining.
	IgnoresInverseOffers bool
}

// Options configures a Cluster. The zero value is usable: an empty cluster on the real clock.
type Options struct {
	// Clock is the clock of registrations, schedules and timestamps; the real clock when nil.
	// It is read on every request and inspection, so a k8s.io/utils/clock/testing FakeClock
	// can be stepped freely.
	Clock clock.PassiveClock
	// Machines returns the machines at the clock's current time (see FromFakeAWS). It is
	// called with the Cluster's lock held and must not call back into the Cluster. Nil means
	// no machine.
	Machines func() []Machine
	// RegistrationDelay is the time from InService to agent registration; DefaultRegistrationDelay
	// when zero, none when negative.
	RegistrationDelay time.Duration
	// Shapes are the agent resources by instance type (cores, MiB); types not listed get
	// DefaultShape. Ports and GPUs are not taken from here.
	Shapes map[string]mesos.Resources
	// Attributes returns the attributes an agent registers with; DefaultAttributes when nil.
	// GroupAttributes builds one per group.
	Attributes func(Machine) map[string]string
	// ExecutorOverhead is added to an agent's used resources for every task;
	// DefaultExecutorOverhead when nil.
	ExecutorOverhead *mesos.Resources
	// Applications is the Marathon workload. Tasks are placed application by application in
	// this order.
	Applications []Application
	// ClusterID is the master id, prefix of agent ids ("<ClusterID>-S0") and framework ids;
	// DefaultClusterID when empty.
	ClusterID string
	// ClusterName is the cluster name the master reports; DefaultClusterName when empty.
	ClusterName string
	// MarathonRole is the role of the Marathon framework; "*" when empty.
	MarathonRole string
	// DrainMoveAfter is how long a task stays on a DRAINING agent (Mesos maintenance) before
	// Marathon kills it and launches it again elsewhere, counted from when the agent started
	// draining or the task launched, whichever is later; DefaultDrainMoveAfter when zero, none
	// when negative. Applications with IgnoresInverseOffers never move.
	DrainMoveAfter time.Duration
}

// Cluster is the simulated Mesos cluster: agents, Marathon's workload and the masters that
// serve them. It is safe for concurrent use.
type Cluster struct {
	clock       clock.PassiveClock
	machines    func() []Machine
	delay       time.Duration
	shapes      map[string]mesos.Resources
	attrs       func(Machine) map[string]string
	overhead    mesos.Resources
	id          string
	name        string
	role        string
	start       time.Time
	frameworkID string // the Marathon framework id
	moveAfter   time.Duration

	mu         sync.Mutex
	last       time.Time // latest clock reading; the simulation never goes back
	agents     []*agent  // registered agents in registration order
	byInstance map[string]*agent
	byID       map[string]*agent
	agentSeq   int
	apps       []*app
	byApp      map[string]*app
	taskSeq    uint64
	completed  []completedTask // newest last, at most maxCompletedTasks

	// Mesos maintenance (maintenance.go).
	schedule []schedWindow          // as last posted, minus machines brought up
	maint    map[string]*maintState // by machineKey: the machines of schedule
	killed   map[string]int         // tasks lost with their agent, by app id
	moved    map[string]int         // tasks moved off DRAINING agents, by app id

	// HTTP side (http.go).
	masters     []*Master
	leader      int // index in masters
	electedAt   time.Time
	down        bool
	marathonOff bool
	latency     time.Duration
	failN       int
	failStatus  int
	requests    map[requestKey]int
	marathonURL string
}

// agent is one registered agent.
type agent struct {
	seq        int
	id         string
	machine    Machine
	hostname   string
	pid        string
	total      mesos.Resources
	used       mesos.Resources // Σ tasks + executor overhead
	tasks      []*task         // launch order
	registered time.Time
	attrs      map[string]string // never modified after registration
	// draining is set while the agent's machine is DRAINING in Mesos maintenance: a draining
	// agent accepts no task, and Marathon moves its tasks away (maintenance.go).
	draining      bool
	drainingSince time.Time
	// inverse is Marathon's latest answer to the agent's inverse offers ("ACCEPT", "DECLINE";
	// empty before any), given at inverseAt.
	inverse   string
	inverseAt time.Time
	// acceptsTasks is the operator's switch; false keeps new tasks off the agent.
	acceptsTasks bool
}

func (a *agent) accepts() bool { return a.acceptsTasks && !a.draining }

// app is one application of the workload with its running tasks.
type app struct {
	spec        Application
	demand      mesos.Resources // task resources
	unique      bool            // hostname:UNIQUE
	attrMatch   []attrMatch     // attribute CLUSTER/LIKE constraints
	name        string          // Mesos task name: path segments reversed, "api.web"
	idPrefix    string          // task id prefix: path with "/" as "_", "web_api"
	wanted      int
	tasks       []*task // launch order, oldest first
	queuedSince time.Time
}

// wantedAt returns the instance count the schedule asks for at elapsed time since start.
func (ap *app) wantedAt(elapsed time.Duration) int {
	n := 0
	for _, s := range ap.spec.Schedule {
		if s.At > elapsed {
			break
		}
		n = s.Instances
	}
	return n
}

// task is one running Marathon task. It is never modified after launch, so renderers read it
// without the lock.
type task struct {
	seq     uint64
	id      string
	app     *app
	agentID string
	started time.Time
}

// completedTask is a finished task kept for "completed_tasks".
type completedTask struct {
	task
	state    string
	finished time.Time
}

// New returns a Cluster whose start time is the clock's current time.
func New(o Options) (*Cluster, error) {
	c := &Cluster{
		clock:      o.Clock,
		machines:   o.Machines,
		delay:      o.RegistrationDelay,
		shapes:     maps.Clone(o.Shapes),
		attrs:      o.Attributes,
		overhead:   DefaultExecutorOverhead,
		id:         o.ClusterID,
		name:       o.ClusterName,
		role:       o.MarathonRole,
		byInstance: map[string]*agent{},
		byID:       map[string]*agent{},
		byApp:      map[string]*app{},
		requests:   map[requestKey]int{},
		moveAfter:  o.DrainMoveAfter,
		maint:      map[string]*maintState{},
		killed:     map[string]int{},
		moved:      map[string]int{},
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	switch {
	case c.delay == 0:
		c.delay = DefaultRegistrationDelay
	case c.delay < 0:
		c.delay = 0
	}
	switch {
	case c.moveAfter == 0:
		c.moveAfter = DefaultDrainMoveAfter
	case c.moveAfter < 0:
		c.moveAfter = 0
	}
	for typ, r := range c.shapes {
		if r.CPUs <= 0 || r.Mem <= 0 || r.Disk < 0 || r.GPUs < 0 {
			return nil, fmt.Errorf("creating simulated Mesos cluster: shape of %q: want positive cpus and mem, got %+v", typ, r)
		}
	}
	if c.attrs == nil {
		c.attrs = DefaultAttributes
	}
	if o.ExecutorOverhead != nil {
		if !o.ExecutorOverhead.NonNegative().Sub(*o.ExecutorOverhead).IsZero() {
			return nil, fmt.Errorf("creating simulated Mesos cluster: negative executor overhead %+v", *o.ExecutorOverhead)
		}
		c.overhead = *o.ExecutorOverhead
	}
	if c.id == "" {
		c.id = DefaultClusterID
	}
	if c.name == "" {
		c.name = DefaultClusterName
	}
	if c.role == "" {
		c.role = "*"
	}
	c.frameworkID = c.id + "-0001"
	for _, spec := range o.Applications {
		ap, err := newApp(spec)
		if err != nil {
			return nil, fmt.Errorf("creating simulated Mesos cluster: %w", err)
		}
		if _, dup := c.byApp[ap.spec.ID]; dup {
			return nil, fmt.Errorf("creating simulated Mesos cluster: application %q listed twice", spec.ID)
		}
		c.apps = append(c.apps, ap)
		c.byApp[ap.spec.ID] = ap
	}
	c.start = c.clock.Now()
	c.last = c.start
	c.electedAt = c.start
	c.syncWorkload(c.start) // copies wanted from the start wait in the queue since then
	return c, nil
}

// newApp checks an application and derives its task naming.
func newApp(spec Application) (*app, error) {
	segs, err := appSegments(spec.ID)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("application %q", spec.ID)
	for _, v := range []float64{spec.CPUs, spec.MemMiB, spec.DiskMiB} {
		if v < 0 || v != v {
			return nil, fmt.Errorf("%s: negative or NaN resources (cpus %v, mem %v, disk %v)", label, spec.CPUs, spec.MemMiB, spec.DiskMiB)
		}
	}
	if spec.CPUs == 0 && spec.MemMiB == 0 {
		return nil, fmt.Errorf("%s: needs cpus or mem", label)
	}
	for i, s := range spec.Schedule {
		if s.At < 0 || s.Instances < 0 {
			return nil, fmt.Errorf("%s: schedule step %d (at %v, %d instances) is negative", label, i, s.At, s.Instances)
		}
		if i > 0 && s.At < spec.Schedule[i-1].At {
			return nil, fmt.Errorf("%s: schedule step %d (at %v) comes before step %d (at %v)", label, i, s.At, i-1, spec.Schedule[i-1].At)
		}
	}
	ap := &app{
		spec:     spec,
		demand:   mesos.Resources{CPUs: spec.CPUs, Mem: spec.MemMiB, Disk: spec.DiskMiB},
		idPrefix: strings.Join(segs, "_"),
	}
	ap.spec.Schedule = slices.Clone(spec.Schedule)
	ap.spec.Constraints = nil
	for _, con := range spec.Constraints {
		switch {
		case len(con) == 2 && con[0] == "hostname" && con[1] == "UNIQUE":
			ap.unique = true
		case len(con) == 3 && (con[1] == "CLUSTER" || con[1] == "LIKE") && con[0] != "hostname":
			pattern := regexp.QuoteMeta(con[2])
			if con[1] == "LIKE" {
				pattern = con[2]
			}
			re, err := regexp.Compile("^(?:" + pattern + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s: constraint %q: %w", label, con, err)
			}
			ap.attrMatch = append(ap.attrMatch, attrMatch{attr: con[0], re: re})
		default:
			return nil, fmt.Errorf("%s: unsupported constraint %q (supported: [\"hostname\", \"UNIQUE\"], [attribute, \"CLUSTER\"|\"LIKE\", value])", label, con)
		}
		ap.spec.Constraints = append(ap.spec.Constraints, slices.Clone(con))
	}
	rev := slices.Clone(segs)
	slices.Reverse(rev)
	ap.name = strings.Join(rev, ".")
	return ap, nil
}

// appSegments splits a Marathon app id into its path segments, each of lowercase letters,
// digits and inner hyphens (Marathon's path rules, without dots, which would make task names
// ambiguous).
func appSegments(id string) ([]string, error) {
	rest, ok := strings.CutPrefix(id, "/")
	if !ok || rest == "" {
		return nil, fmt.Errorf("application id %q: want an absolute path such as \"/web/api\"", id)
	}
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		valid := s != "" && s[0] != '-' && s[len(s)-1] != '-'
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				valid = false
			}
		}
		if !valid {
			return nil, fmt.Errorf("application id %q: segment %q: want lowercase letters, digits and inner hyphens", id, s)
		}
	}
	return segs, nil
}

// StartTime returns the cluster's start time, from which schedule steps count.
func (c *Cluster) StartTime() time.Time { return c.start }

// ID returns the master id, the prefix of agent and framework ids.
func (c *Cluster) ID() string { return c.id }

// syncLocked brings the state to the clock's current time and returns that time. Called with
// c.mu held.
//
// Between two readings the machine source is only seen at the end, but registration times and
// schedule steps are known: the workload is replayed at each of them in order, so a clock
// stepped far ahead launches and kills the same tasks, in the same order, as one that ticked.
// Agents whose machines left service are removed first, at the current time.
func (c *Cluster) syncLocked() time.Time {
	now := c.clock.Now()
	prev := c.last
	if now.Before(prev) {
		now = prev
	}
	c.last = now
	var ms []Machine
	if c.machines != nil {
		ms = c.machines()
	}
	fresh := c.syncAgents(now, ms)

	// Events in (prev, now]: registrations (those due earlier count at prev) and steps.
	var events []time.Time
	for _, d := range fresh {
		events = append(events, later(d.at, prev))
	}
	for _, ap := range c.apps {
		for _, st := range ap.spec.Schedule {
			if t := c.start.Add(st.At); t.After(prev) && !t.After(now) {
				events = append(events, t)
			}
		}
	}
	events = c.appendMoveDeadlines(events, prev, now)
	slices.SortFunc(events, time.Time.Compare)
	events = slices.Compact(events)
	next := 0
	for _, t := range events {
		for ; next < len(fresh) && !later(fresh[next].at, prev).After(t); next++ {
			c.register(fresh[next].m, fresh[next].at)
		}
		c.moveDrained(t)
		c.syncWorkload(t)
	}
	for ; next < len(fresh); next++ {
		c.register(fresh[next].m, fresh[next].at)
	}
	c.moveDrained(now)
	c.syncWorkload(now)
	return now
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dueMachine is a machine whose agent registration fell due at at.
type dueMachine struct {
	m  Machine
	at time.Time
}

// syncAgents removes the agents of machines that left service and returns the machines whose
// registration is due by now, in registration order: the order registrations fell due, ties by
// instance id.
func (c *Cluster) syncAgents(now time.Time, ms []Machine) []dueMachine {
	inService := make(map[string]Machine, len(ms))
	for _, m := range ms {
		if m.InService && m.InstanceID != "" {
			inService[m.InstanceID] = m
		}
	}
	kept := c.agents[:0]
	for _, a := range c.agents {
		if _, ok := inService[a.machine.InstanceID]; ok {
			kept = append(kept, a)
			continue
		}
		c.removeAgent(a, now)
	}
	clear(c.agents[len(kept):])
	c.agents = kept

	var fresh []dueMachine
	for _, m := range ms {
		if _, ok := inService[m.InstanceID]; !ok {
			continue
		}
		if _, ok := c.byInstance[m.InstanceID]; ok {
			continue
		}
		if c.isDown(machineIDOf(m)) {
			continue // Mesos refuses agents from DOWN machines
		}
		at := c.start
		if !m.InServiceSince.IsZero() {
			at = m.InServiceSince.Add(c.delay)
		}
		if at.After(now) {
			continue
		}
		delete(inService, m.InstanceID) // a machine listed twice registers once
		fresh = append(fresh, dueMachine{m, at})
	}
	slices.SortStableFunc(fresh, func(x, y dueMachine) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return strings.Compare(x.m.InstanceID, y.m.InstanceID)
	})
	return fresh
}

// register adds the agent of machine m, registered at t.
func (c *Cluster) register(m Machine, t time.Time) {
	host := m.Hostname
	if host == "" {
		host = m.PrivateIP
	}
	total, ok := c.shapes[m.InstanceType]
	if !ok {
		total = DefaultShape
	}
	a := &agent{
		seq:          c.agentSeq,
		id:           fmt.Sprintf("%s-S%d", c.id, c.agentSeq),
		machine:      m,
		hostname:     host,
		pid:          fmt.Sprintf("slave(1)@%s:%d", m.PrivateIP, AgentPort),
		total:        mesos.Resources{CPUs: total.CPUs, Mem: total.Mem, Disk: total.Disk},
		registered:   t,
		attrs:        maps.Clone(c.attrs(m)),
		acceptsTasks: true,
	}
	c.agentSeq++
	c.agents = append(c.agents, a)
	c.byInstance[m.InstanceID] = a
	c.byID[a.id] = a
	c.updateDraining(a, t)
}

// removeAgent forgets a and loses its tasks, which Marathon will launch again; they count as
// killed (KilledTasks).
func (c *Cluster) removeAgent(a *agent, now time.Time) {
	for _, t := range a.tasks {
		ap := t.app
		if i := slices.Index(ap.tasks, t); i >= 0 {
			ap.tasks = slices.Delete(ap.tasks, i, i+1)
		}
		c.complete(t, "TASK_LOST", now)
		c.killed[ap.spec.ID]++
	}
	a.tasks = nil
	delete(c.byInstance, a.machine.InstanceID)
	delete(c.byID, a.id)
}

// complete records a finished task.
func (c *Cluster) complete(t *task, state string, now time.Time) {
	if len(c.completed) == maxCompletedTasks {
		c.completed = slices.Delete(c.completed, 0, 1)
	}
	c.completed = append(c.completed, completedTask{task: *t, state: state, finished: now})
}

// syncWorkload kills surplus tasks (newest first) and places missing ones first-fit.
func (c *Cluster) syncWorkload(now time.Time) {
	elapsed := now.Sub(c.start)
	for _, ap := range c.apps {
		ap.wanted = ap.wantedAt(elapsed)
		for len(ap.tasks) > ap.wanted {
			t := ap.tasks[len(ap.tasks)-1]
			ap.tasks[len(ap.tasks)-1] = nil
			ap.tasks = ap.tasks[:len(ap.tasks)-1]
			if a := c.byID[t.agentID]; a != nil {
				if i := slices.Index(a.tasks, t); i >= 0 {
					a.tasks = slices.Delete(a.tasks, i, i+1)
				}
				c.updateUsed(a)
			}
			c.complete(t, "TASK_KILLED", now)
		}
	}
	for _, ap := range c.apps {
		c.place(ap, now)
		switch {
		case len(ap.tasks) >= ap.wanted:
			ap.queuedSince = time.Time{}
		case ap.queuedSince.IsZero():
			ap.queuedSince = now
		}
	}
}

// place launches the app's missing tasks first-fit on the agents that accept tasks, in
// registration order (agent ids by number: S2 before S10), each task needing its resources plus
// the executor overhead free, so that used never exceeds total. Agents
// before the last one used did not fit the same task earlier in this pass, and placing only
// shrinks free resources, so the scan resumes where it stopped: one pass per app costs
// O(agents + tasks).
func (c *Cluster) place(ap *app, now time.Time) {
	need := ap.demand.Add(c.overhead)
	next := 0
	for missing := ap.wanted - len(ap.tasks); missing > 0; missing-- {
		i := next
		for ; i < len(c.agents); i++ {
			a := c.agents[i]
			if a.accepts() && need.Fits(a.total.Sub(a.used)) && !(ap.unique && hasTaskOf(a, ap)) && ap.matches(a) {
				break
			}
		}
		if i == len(c.agents) {
			return
		}
		c.launch(ap, c.agents[i], now)
		next = i
	}
}

// attrMatch is one attribute constraint: the agent's attribute must match re.
type attrMatch struct {
	attr string
	re   *regexp.Regexp
}

// matches reports whether agent a satisfies the app's attribute constraints.
func (ap *app) matches(a *agent) bool {
	for _, m := range ap.attrMatch {
		v, ok := a.attrs[m.attr]
		if !ok || !m.re.MatchString(v) {
			return false
		}
	}
	return true
}

func hasTaskOf(a *agent, ap *app) bool {
	for _, t := range a.tasks {
		if t.app == ap {
			return true
		}
	}
	return false
}

// launch starts one task of ap on a.
func (c *Cluster) launch(ap *app, a *agent, now time.Time) {
	c.taskSeq++
	t := &task{
		seq:     c.taskSeq,
		id:      ap.idPrefix + ".instance-" + taskUUID(c.taskSeq) + "._app.1",
		app:     ap,
		agentID: a.id,
		started: now,
	}
	ap.tasks = append(ap.tasks, t)
	a.tasks = append(a.tasks, t)
	c.updateUsed(a)
}

// updateUsed recomputes a's used resources from its tasks, in launch order, as the master
// sums them (so the float noise is the master's too).
func (c *Cluster) updateUsed(a *agent) {
	var u mesos.Resources
	for _, t := range a.tasks {
		u = u.Add(t.app.demand).Add(c.overhead)
	}
	a.used = u
}

// taskUUID renders n as a deterministic, version-1-shaped UUID, as Marathon 1.8+ uses in
// instance ids ("00000001-0000-11f0-8000-5ca1ab1e0000").
func taskUUID(n uint64) string {
	return fmt.Sprintf("%08x-%04x-11f0-8000-5ca1ab1e0000", uint32(n), uint16(n>>32))
}

// AgentView is what tests and the demo see of one registered agent.
type AgentView struct {
	// ID is the agent id ("<cluster id>-S3").
	ID string
	// InstanceID, Group and InstanceType come from the agent's machine.
	InstanceID, Group, InstanceType string
	// Hostname is the hostname the agent registered with.
	Hostname string
	// IP is the agent's address (its machine's PrivateIP).
	IP string
	// Total is the agent's resources (cores, MiB).
	Total mesos.Resources
	// Used is Σ of its tasks' resources plus the executor overhead of each (cores, MiB).
	Used mesos.Resources
	// Tasks is the number of running tasks on the agent.
	Tasks int
	// TasksByApp counts the running tasks per application id.
	TasksByApp map[string]int
	// RegisteredTime is when the agent registered.
	RegisteredTime time.Time
	// AcceptsTasks is false when new tasks are kept off the agent (SetAcceptsTasks, or its
	// machine DRAINING in Mesos maintenance).
	AcceptsTasks bool
	// Draining is true while the agent's machine is DRAINING in Mesos maintenance.
	Draining bool
	// Attributes are the agent's attributes.
	Attributes map[string]string
}

// Agents returns the registered agents at the clock's current time, in registration order.
func (c *Cluster) Agents() []AgentView {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	out := make([]AgentView, len(c.agents))
	for i, a := range c.agents {
		byApp := map[string]int{}
		for _, t := range a.tasks {
			byApp[t.app.spec.ID]++
		}
		out[i] = AgentView{
			ID:             a.id,
			InstanceID:     a.machine.InstanceID,
			Group:          a.machine.Group,
			InstanceType:   a.machine.InstanceType,
			Hostname:       a.hostname,
			IP:             a.machine.PrivateIP,
			Total:          a.total,
			Used:           a.used,
			Tasks:          len(a.tasks),
			TasksByApp:     byApp,
			RegisteredTime: a.registered,
			AcceptsTasks:   a.accepts(),
			Draining:       a.draining,
			Attributes:     maps.Clone(a.attrs),
		}
	}
	return out
}

// AppView is the state of one application of the workload.
type AppView struct {
	// ID is the Marathon app id.
	ID string
	// Wanted is the instance count its schedule asks for now.
	Wanted int
	// Running is the number of running tasks.
	Running int
	// Queued is the number of copies waiting in Marathon's launch queue (Wanted − Running).
	Queued int
}

// Apps returns the workload's applications at the clock's current time, in Options order.
func (c *Cluster) Apps() []AppView {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	out := make([]AppView, len(c.apps))
	for i, ap := range c.apps {
		out[i] = AppView{ID: ap.spec.ID, Wanted: ap.wanted, Running: len(ap.tasks), Queued: max(0, ap.wanted-len(ap.tasks))}
	}
	return out
}

// ErrNoAgent is returned (wrapped) for an agent id that is not registered.
var ErrNoAgent = errors.New("no such agent")

// SetAcceptsTasks switches whether new tasks may be placed on the agent with id agentID; tasks
// already there stay. Mesos maintenance keeps tasks off DRAINING agents whatever this switch.
func (c *Cluster) SetAcceptsTasks(agentID string, accepts bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.syncLocked()
	a := c.byID[agentID]
	if a == nil {
		return fmt.Errorf("setting whether agent %q accepts tasks: %w", agentID, ErrNoAgent)
	}
	a.acceptsTasks = accepts
	if a.accepts() {
		c.syncWorkload(now) // queued copies may fit now
	}
	return nil
}
