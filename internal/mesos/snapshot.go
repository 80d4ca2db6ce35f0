// Package mesos reads the state of an Apache Mesos cluster from its masters and turns it into a
// normalized, immutable Snapshot for the planner.
//
// It finds the leading master (GET /master/redirect), reads GET /master/state (or
// /master/state.json on masters older than 1.0) with a streaming decoder that keeps only the
// fields the planner needs, and never reports a partial or standby view as an empty cluster.
// It makes no scaling decision.
package mesos

import "math"

// Epsilon is the tolerance used when comparing resource amounts. Mesos sums doubles, so an
// agent may report 0.0999999999999994 CPUs for 0.1.
const Epsilon = 1e-6

// Resources holds the scalar resources of an agent, task or node shape.
// CPUs are in cores, Mem and Disk in MiB, GPUs in devices. Port ranges are not tracked.
type Resources struct {
	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
	GPUs float64 `json:"gpus"`
}

// ResourceName names one scalar resource as Mesos does: "cpus", "mem", "disk", "gpus".
type ResourceName string

// The scalar resources Lambda Scale counts.
const (
	ResourceCPUs ResourceName = "cpus"
	ResourceMem  ResourceName = "mem"
	ResourceDisk ResourceName = "disk"
	ResourceGPUs ResourceName = "gpus"
)

// AllResources lists every scalar resource in a fixed order.
var AllResources = []ResourceName{ResourceCPUs, ResourceMem, ResourceDisk, ResourceGPUs}

// Get returns the amount of resource n (0 for an unknown name).
func (r Resources) Get(n ResourceName) float64 {
	switch n {
	case ResourceCPUs:
		return r.CPUs
	case ResourceMem:
		return r.Mem
	case ResourceDisk:
		return r.Disk
	case ResourceGPUs:
		return r.GPUs
	}
	return 0
}

// Set sets the amount of resource n; an unknown name is ignored.
func (r *Resources) Set(n ResourceName, v float64) {
	switch n {
	case ResourceCPUs:
		r.CPUs = v
	case ResourceMem:
		r.Mem = v
	case ResourceDisk:
		r.Disk = v
	case ResourceGPUs:
		r.GPUs = v
	}
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUs: r.CPUs + o.CPUs, Mem: r.Mem + o.Mem, Disk: r.Disk + o.Disk, GPUs: r.GPUs + o.GPUs}
}

// Sub returns r - o (components may become negative).
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUs: r.CPUs - o.CPUs, Mem: r.Mem - o.Mem, Disk: r.Disk - o.Disk, GPUs: r.GPUs - o.GPUs}
}

// Scale returns r multiplied by f.
func (r Resources) Scale(f float64) Resources {
	return Resources{CPUs: r.CPUs * f, Mem: r.Mem * f, Disk: r.Disk * f, GPUs: r.GPUs * f}
}

// Min returns the component-wise minimum of r and o.
func (r Resources) Min(o Resources) Resources {
	return Resources{CPUs: math.Min(r.CPUs, o.CPUs), Mem: math.Min(r.Mem, o.Mem), Disk: math.Min(r.Disk, o.Disk), GPUs: math.Min(r.GPUs, o.GPUs)}
}

// NonNegative returns r with negative components (and float noise below Epsilon) set to 0.
func (r Resources) NonNegative() Resources {
	f := func(v float64) float64 {
		if v < Epsilon {
			return 0
		}
		return v
	}
	return Resources{CPUs: f(r.CPUs), Mem: f(r.Mem), Disk: f(r.Disk), GPUs: f(r.GPUs)}
}

// Fits reports whether r fits in free, with Epsilon tolerance on every component.
func (r Resources) Fits(free Resources) bool {
	return r.CPUs <= free.CPUs+Epsilon && r.Mem <= free.Mem+Epsilon &&
		r.Disk <= free.Disk+Epsilon && r.GPUs <= free.GPUs+Epsilon
}

// IsZero reports whether every component is within Epsilon of 0.
func (r Resources) IsZero() bool {
	return math.Abs(r.CPUs) < Epsilon && math.Abs(r.Mem) < Epsilon &&
		math.Abs(r.Disk) < Epsilon && math.Abs(r.GPUs) < Epsilon
}

// Snapshot is one consistent view of a Mesos cluster, read from the leading master's
// GET /master/state. It is never modified after it is built.
type Snapshot struct {
	// Version is the master's Mesos version ("1.2.0"), empty when the master omits it.
	Version string `json:"version"`
	// Leader is the leading master's pid ("master@10.0.4.58:5050").
	Leader string `json:"leader"`
	// LeaderURL is the base URL the state was read from ("http://10.0.4.58:5050"); set by
	// Client.State, empty when the state was decoded from a file.
	LeaderURL string `json:"leaderURL,omitempty"`
	// Cluster is the cluster name the master reports, if any.
	Cluster string `json:"cluster,omitempty"`
	// Agents are the registered agents ("slaves"), active or not, in the master's order.
	Agents []Agent `json:"agents"`
	// Frameworks are the registered frameworks (not completed ones).
	Frameworks []Framework `json:"frameworks"`
	// Applications group the running tasks: Marathon apps by app id, other frameworks by
	// framework name and task name. Sorted by ID.
	Applications []Application `json:"applications"`
	// Tasks are the live tasks (staging, starting, running, killing, unreachable is separate),
	// de-duplicated by framework and task id. Completed tasks are never kept.
	Tasks []Task `json:"-"`
	// UnreachableAgents is the master's count of unreachable agents ("unreachable_slaves"; 0
	// when absent).
	UnreachableAgents int `json:"unreachableAgents"`
	// RecoveredAgents is the number of agents known from the registry that have not
	// re-registered after a master fail-over ("recovered_slaves").
	RecoveredAgents int `json:"recoveredAgents"`
	// UnreachableTasks is the number of tasks listed in frameworks' "unreachable_tasks".
	UnreachableTasks int `json:"unreachableTasks"`
}

// Agent is one Mesos agent as the master reports it in "slaves".
type Agent struct {
	// ID is the agent id ("...-S1"; older masters use "...-0").
	ID string `json:"id"`
	// Hostname is the agent's hostname exactly as it registered.
	Hostname string `json:"hostname"`
	// IP is the address from the agent's pid ("slave(1)@10.0.2.121:5051" → "10.0.2.121";
	// IPv6 without brackets). Empty when the pid is missing or unparsable.
	IP string `json:"ip"`
	// Port is the port from the agent's pid (0 when unknown).
	Port int `json:"port"`
	// Attributes are the agent's attributes with every value rendered as a string
	// (numbers as Mesos prints them, ranges and sets as their text).
	Attributes map[string]string `json:"attributes,omitempty"`
	// Active is false when the master marked the agent deactivated. Masters that omit the
	// field (before 0.2x) are taken as active.
	Active bool `json:"active"`
	// Draining is true when the agent is in Mesos maintenance (DRAINING) or being drained
	// ("drain_info"/"deactivated" on Mesos 1.9+).
	Draining bool `json:"draining"`
	// Total is the agent's total resources ("resources").
	Total Resources `json:"total"`
	// Used is the agent's used resources ("used_resources"), executors included. Zero when
	// the master omits it (before 0.23); then Lambda Scale sums the tasks' resources instead.
	Used Resources `json:"used"`
	// Unreserved is the agent's unreserved resources ("unreserved_resources"); when the
	// master omits it, Total minus every reservation.
	Unreserved Resources `json:"unreserved"`
	// Reserved holds the reservations per role ("reserved_resources").
	Reserved map[string]Resources `json:"reserved,omitempty"`
	// Version is the agent's Mesos version, if reported.
	Version string `json:"version,omitempty"`
	// RegisteredTime is the registration time in seconds since the Unix epoch (0 if absent).
	RegisteredTime float64 `json:"registeredTime,omitempty"`
	// TaskCount is the number of live tasks on the agent (computed from the frameworks).
	TaskCount int `json:"taskCount"`
	// UnreachableTaskCount is the number of unreachable tasks that ran on this agent.
	UnreachableTaskCount int `json:"unreachableTaskCount,omitempty"`
}

// Framework is a registered framework, from GET /master/state "frameworks".
type Framework struct {
	// ID is the framework id ("...-0001").
	ID string `json:"id"`
	// Name is the framework name ("marathon", "confluent-kafka").
	Name string `json:"name"`
	// Role is the framework's role ("role"); for a multi-role framework ("roles", Mesos 1.3+)
	// its first role; "*" when the master reports none.
	Role string `json:"role"`
	// Roles are all the roles of a multi-role framework ("roles"); nil for single-role ones.
	Roles []string `json:"roles,omitempty"`
	// Active is false when the master marked the framework inactive; masters that omit the
	// field are taken as active.
	Active bool `json:"active"`
	// IsMarathon is true for Marathon (name "marathon" or starting with "marathon").
	IsMarathon bool `json:"isMarathon"`
}

// Task is one live task. Resources are those of the task itself (executors excluded).
type Task struct {
	// AgentIndex is the index of the task's agent in Snapshot.Agents (-1 when the agent is
	// not registered).
	AgentIndex int32 `json:"agentIndex"`
	// AppIndex is the index of the task's application in Snapshot.Applications.
	AppIndex int32 `json:"appIndex"`
	// State is the Mesos task state ("TASK_RUNNING").
	State string `json:"state"`
	// Resources are the task's scalar resources.
	Resources Resources `json:"resources"`
}

// Application is a group of tasks the planner treats as one workload.
type Application struct {
	// ID is the Marathon app id ("/web/nginx") for Marathon tasks; otherwise
	// "<framework name>/<task name>" (for example "confluent-kafka/broker-0").
	ID string `json:"id"`
	// FrameworkID and FrameworkName identify the framework that runs the tasks.
	FrameworkID   string `json:"frameworkID"`
	FrameworkName string `json:"frameworkName"`
	// Role is the framework's role.
	Role string `json:"role"`
	// Instances is the number of live tasks.
	Instances int `json:"instances"`
	// Shapes are the distinct per-task resource shapes with their task counts, largest first.
	Shapes []Shape `json:"shapes"`
}

// Shape is a per-task resource shape and how many tasks have it.
type Shape struct {
	// Resources are the resources of one task (CPUs in cores, Mem and Disk in MiB).
	Resources Resources `json:"resources"`
	// Count is the number of live tasks with this shape.
	Count int `json:"count"`
}
