package fakemesos

import (
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// masterBuild describes the simulated master build. The values are placeholders, not those of
// a real Mesos 1.11.0 build.
const (
	masterGitSHA    = "0000000000000000000000000000000000000000"
	masterBuildDate = "2020-11-19 00:00:00"
	masterBuildTime = 1605744000
	masterBuildUser = "lambdascale-sim"
)

// stateSnapshot is a consistent copy of what GET /master/state renders, taken under the lock
// and written without it. Tasks are immutable and shared.
type stateSnapshot struct {
	now, start, elected  time.Time
	id, name, role, fwID string
	selfAddr, leaderAddr string
	marathonURL          string
	agents               []agentSnapshot
	completed            []completedTask
	fwUsed               mesos.Resources
	ipByAgent            map[string]string // for completed tasks' statuses
	activeAgents         int
}

type agentSnapshot struct {
	id, hostname, pid, ip string
	total, used           mesos.Resources
	registered            time.Time
	attrs                 map[string]string
	tasks                 []*task
}

// snapshotLocked brings the state to now and copies it. Called with c.mu held.
func (c *Cluster) snapshotLocked(self *Master) *stateSnapshot {
	now := c.syncLocked()
	s := &stateSnapshot{
		now:         now,
		start:       c.start,
		elected:     c.electedAt,
		id:          c.id,
		name:        c.name,
		role:        c.role,
		fwID:        c.frameworkID,
		selfAddr:    self.addr,
		leaderAddr:  c.masters[c.leader].addr,
		marathonURL: c.marathonURL,
		agents:      make([]agentSnapshot, len(c.agents)),
		completed:   slices.Clone(c.completed),
		ipByAgent:   make(map[string]string, len(c.completed)),
	}
	for i, a := range c.agents {
		s.agents[i] = agentSnapshot{
			id: a.id, hostname: a.hostname, pid: a.pid, ip: a.machine.PrivateIP,
			total: a.total, used: a.used, registered: a.registered, attrs: a.attrs,
			tasks: slices.Clone(a.tasks),
		}
		s.fwUsed = s.fwUsed.Add(a.used)
		s.activeAgents++
	}
	for _, t := range s.completed {
		if a := c.byID[t.agentID]; a != nil {
			s.ipByAgent[t.agentID] = a.machine.PrivateIP
		}
	}
	return s
}

// jsonWriter appends JSON to a buffer and hands it to w in large writes.
type jsonWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (j *jsonWriter) raw(s string)     { j.buf = append(j.buf, s...) }
func (j *jsonWriter) str(s string)     { j.buf = appendJSONString(j.buf, s) }
func (j *jsonWriter) num(f float64)    { j.buf = strconv.AppendFloat(j.buf, f, 'f', -1, 64) }
func (j *jsonWriter) int(n int64)      { j.buf = strconv.AppendInt(j.buf, n, 10) }
func (j *jsonWriter) time(t time.Time) { j.num(seconds(t)) }

// maybeFlush writes the buffer out once it is large and reports whether writing still works.
func (j *jsonWriter) maybeFlush() bool {
	if len(j.buf) >= 64<<10 {
		j.flush()
	}
	return j.err == nil
}

func (j *jsonWriter) flush() error {
	if j.err == nil && len(j.buf) > 0 {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
	return j.err
}

// seconds renders t as Mesos does: seconds since the Unix epoch, with a fraction.
func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is copied as is.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// resources writes {"disk":…,"mem":…,"gpus":…,"cpus":…[,"ports":…]} in the order Mesos 1.x
// prints them.
func (j *jsonWriter) resources(r mesos.Resources, ports string) {
	j.raw(`{"disk":`)
	j.num(r.Disk)
	j.raw(`,"mem":`)
	j.num(r.Mem)
	j.raw(`,"gpus":`)
	j.num(r.GPUs)
	j.raw(`,"cpus":`)
	j.num(r.CPUs)
	if ports != "" {
		j.raw(`,"ports":`)
		j.str(ports)
	}
	j.raw("}")
}

// resourcesFull writes the Resource protobuf array of Mesos 1.4+ ("*_resources_full"): the
// non-zero scalars (and the ports when given), unreserved, with allocation_info when allocated.
func (j *jsonWriter) resourcesFull(r mesos.Resources, ports string, allocated bool) {
	j.raw("[")
	first := true
	for _, e := range []struct {
		name string
		v    float64
	}{{"cpus", r.CPUs}, {"mem", r.Mem}, {"disk", r.Disk}, {"gpus", r.GPUs}} {
		if e.v == 0 {
			continue
		}
		if !first {
			j.raw(",")
		}
		first = false
		j.raw(`{"name":`)
		j.str(e.name)
		j.raw(`,"type":"SCALAR","scalar":{"value":`)
		j.num(e.v)
		j.raw(`},"role":"*"`)
		if allocated {
			j.raw(`,"allocation_info":{"role":"*"}`)
		}
		j.raw("}")
	}
	if ports != "" {
		if !first {
			j.raw(",")
		}
		begin, end, _ := strings.Cut(strings.Trim(ports, "[]"), "-")
		j.raw(`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":` + begin + `,"end":` + end + `}]},"role":"*"}`)
	}
	j.raw("]")
}

// agentCapabilities are those of a Mesos 1.11 agent.
const agentCapabilities = `["MULTI_ROLE","HIERARCHICAL_ROLE","RESERVATION_REFINEMENT","RESOURCE_PROVIDER","RESIZE_VOLUME","AGENT_OPERATION_FEEDBACK","AGENT_DRAINING","TASK_RESOURCE_LIMITS"]`

// writeState writes the GET /master/state document in the Mesos 1.x shape (field order of
// Master::Http::state and of the models in src/common/http.cpp).
func (s *stateSnapshot) writeState(w io.Writer) error {
	j := &jsonWriter{w: w, buf: make([]byte, 0, 80<<10)}
	host, port := splitAddr(s.selfAddr)
	lhost, lport := splitAddr(s.leaderAddr)

	j.raw(`{"version":`)
	j.str(AgentVersion)
	j.raw(`,"git_sha":`)
	j.str(masterGitSHA)
	j.raw(`,"git_tag":`)
	j.str(AgentVersion)
	j.raw(`,"build_date":`)
	j.str(masterBuildDate)
	j.raw(`,"build_time":`)
	j.int(masterBuildTime)
	j.raw(`,"build_user":`)
	j.str(masterBuildUser)
	j.raw(`,"start_time":`)
	j.time(s.start)
	j.raw(`,"elected_time":`)
	j.time(s.elected)
	j.raw(`,"id":`)
	j.str(s.id)
	j.raw(`,"pid":`)
	j.str("master@" + s.selfAddr)
	j.raw(`,"hostname":`)
	j.str(host)
	j.raw(`,"capabilities":["AGENT_UPDATE","AGENT_DRAINING","QUOTA_V2"],"activated_slaves":`)
	j.int(int64(s.activeAgents))
	j.raw(`,"deactivated_slaves":0,"unreachable_slaves":0,"leader":`)
	j.str("master@" + s.leaderAddr)
	j.raw(`,"leader_info":{"id":`)
	j.str(s.id)
	j.raw(`,"pid":`)
	j.str("master@" + s.leaderAddr)
	j.raw(`,"port":`)
	j.raw(lport)
	j.raw(`,"hostname":`)
	j.str(lhost)
	j.raw(`,"address":{"hostname":`)
	j.str(lhost)
	j.raw(`,"ip":`)
	j.str(lhost)
	j.raw(`,"port":`)
	j.raw(lport)
	j.raw(`}},"cluster":`)
	j.str(s.name)
	j.raw(`,"log_dir":"/var/log/mesos","flags":{"agent_ping_timeout":"15secs","allocation_interval":"1secs","cluster":`)
	j.str(s.name)
	j.raw(`,"hostname_lookup":"false","log_dir":"/var/log/mesos","max_agent_ping_timeouts":"5","max_completed_frameworks":"50","max_completed_tasks_per_framework":"1000","port":`)
	j.str(port)
	j.raw(`,"quorum":"1","registry":"replicated_log","work_dir":"/var/lib/mesos/master"},"slaves":[`)

	for i := range s.agents {
		if i > 0 {
			j.raw(",")
		}
		s.writeAgent(j, &s.agents[i])
		if !j.maybeFlush() {
			return j.err
		}
	}
	j.raw(`],"recovered_slaves":[],"frameworks":[`)
	if err := s.writeMarathon(j, host); err != nil {
		return err
	}
	j.raw(`],"completed_frameworks":[],"orphan_tasks":[],"unregistered_frameworks":[]}`)
	j.raw("\n")
	return j.flush()
}

func (s *stateSnapshot) writeAgent(j *jsonWriter, a *agentSnapshot) {
	j.raw(`{"id":`)
	j.str(a.id)
	j.raw(`,"pid":`)
	j.str(a.pid)
	j.raw(`,"hostname":`)
	j.str(a.hostname)
	j.raw(`,"port":`)
	j.int(AgentPort)
	j.raw(`,"registered_time":`)
	j.time(a.registered)
	j.raw(`,"resources":`)
	j.resources(a.total, AgentPorts)
	j.raw(`,"used_resources":`)
	j.resources(a.used, "")
	j.raw(`,"offered_resources":{"disk":0,"mem":0,"gpus":0,"cpus":0},"reserved_resources":{},"unreserved_resources":`)
	j.resources(a.total, AgentPorts)
	j.raw(`,"attributes":{`)
	keys := make([]string, 0, len(a.attrs))
	for k := range a.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			j.raw(",")
		}
		j.str(k)
		j.raw(":")
		j.str(a.attrs[k])
	}
	j.raw(`},"active":true,"deactivated":false,"version":`)
	j.str(AgentVersion)
	j.raw(`,"capabilities":` + agentCapabilities + `,"reserved_resources_full":{},"unreserved_resources_full":`)
	j.resourcesFull(a.total, AgentPorts, false)
	j.raw(`,"used_resources_full":`)
	j.resourcesFull(a.used, "", true)
	j.raw(`,"offered_resources_full":[]}`)
}

// writeMarathon writes the Marathon framework with its tasks.
func (s *stateSnapshot) writeMarathon(j *jsonWriter, masterHost string) error {
	webUI := s.marathonURL
	if webUI == "" {
		webUI = "http://" + masterHost + ":8080"
	}
	j.raw(`{"id":`)
	j.str(s.fwID)
	j.raw(`,"name":"marathon","pid":`)
	j.str("scheduler-" + taskUUID(0) + "@" + masterHost + ":15101")
	j.raw(`,"used_resources":`)
	j.resources(s.fwUsed, "")
	j.raw(`,"offered_resources":{"disk":0,"mem":0,"gpus":0,"cpus":0},"capabilities":["TASK_KILLING_STATE","GPU_RESOURCES","PARTITION_AWARE","REGION_AWARE"],"hostname":`)
	j.str(masterHost)
	j.raw(`,"webui_url":`)
	j.str(webUI)
	j.raw(`,"active":true,"connected":true,"recovered":false,"user":"root","failover_timeout":604800,"checkpoint":true,"registered_time":`)
	j.time(s.start)
	j.raw(`,"unregistered_time":0,"resources":`)
	j.resources(s.fwUsed, "")
	j.raw(`,"role":`)
	j.str(s.role)
	j.raw(`,"tasks":[`)
	first := true
	for i := range s.agents {
		a := &s.agents[i]
		for _, t := range a.tasks {
			if !first {
				j.raw(",")
			}
			first = false
			s.writeTask(j, t, "TASK_RUNNING", a.ip, time.Time{})
		}
		if !j.maybeFlush() {
			return j.err
		}
	}
	j.raw(`],"unreachable_tasks":[],"completed_tasks":[`)
	for i := range s.completed {
		if i > 0 {
			j.raw(",")
		}
		t := &s.completed[i]
		s.writeTask(j, &t.task, t.state, s.ipByAgent[t.agentID], t.finished)
	}
	j.raw(`],"offers":[],"executors":[]}`)
	return nil
}

// writeTask writes one task; finished is the time of its terminal state (zero for a running
// task).
func (s *stateSnapshot) writeTask(j *jsonWriter, t *task, state, ip string, finished time.Time) {
	j.raw(`{"id":`)
	j.str(t.id)
	j.raw(`,"name":`)
	j.str(t.app.name)
	j.raw(`,"framework_id":`)
	j.str(s.fwID)
	j.raw(`,"executor_id":"","slave_id":`)
	j.str(t.agentID)
	j.raw(`,"state":`)
	j.str(state)
	j.raw(`,"resources":`)
	j.resources(t.app.demand, "")
	j.raw(`,"role":`)
	j.str(s.role)
	j.raw(`,"statuses":[{"state":"TASK_RUNNING","timestamp":`)
	j.time(t.started)
	if ip != "" {
		j.raw(`,"container_status":{"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":`)
		j.str(ip)
		j.raw(`}]}]}`)
	}
	j.raw("}")
	if !finished.IsZero() {
		j.raw(`,{"state":`)
		j.str(state)
		j.raw(`,"timestamp":`)
		j.time(finished)
		j.raw("}")
	}
	j.raw(`]}`)
}

// splitAddr splits "host:port"; port is "5050" when absent.
func splitAddr(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.HasSuffix(addr, "]") {
		return strings.Trim(addr, "[]"), "5050"
	}
	p := addr[i+1:]
	if _, err := strconv.Atoi(p); err != nil {
		p = "5050"
	}
	return strings.Trim(addr[:i], "[]"), p
}

// marathonTime renders t as Marathon does ("2026-03-02T09:01:30.000Z").
func marathonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// appJSON is a Marathon 1.x app definition, as /v2/apps and /v2/queue show it.
type appJSON struct {
	ID                    string             `json:"id"`
	Cmd                   string             `json:"cmd"`
	Instances             int                `json:"instances"`
	CPUs                  float64            `json:"cpus"`
	Mem                   float64            `json:"mem"`
	Disk                  float64            `json:"disk"`
	GPUs                  int                `json:"gpus"`
	Executor              string             `json:"executor"`
	Constraints           [][]string         `json:"constraints"`
	AcceptedResourceRoles []string           `json:"acceptedResourceRoles"`
	Role                  string             `json:"role"`
	PortDefinitions       []struct{}         `json:"portDefinitions"`
	RequirePorts          bool               `json:"requirePorts"`
	BackoffSeconds        int                `json:"backoffSeconds"`
	BackoffFactor         float64            `json:"backoffFactor"`
	MaxLaunchDelaySeconds int                `json:"maxLaunchDelaySeconds"`
	KillSelection         string             `json:"killSelection"`
	UpgradeStrategy       map[string]float64 `json:"upgradeStrategy"`
	UnreachableStrategy   map[string]float64 `json:"unreachableStrategy"`
	Version               string             `json:"version"`
	VersionInfo           map[string]string  `json:"versionInfo"`
	// /v2/apps only.
	TasksStaged    *int        `json:"tasksStaged,omitempty"`
	TasksRunning   *int        `json:"tasksRunning,omitempty"`
	TasksHealthy   *int        `json:"tasksHealthy,omitempty"`
	TasksUnhealthy *int        `json:"tasksUnhealthy,omitempty"`
	Deployments    *[]struct{} `json:"deployments,omitempty"`
}

// appDefinition renders ap's definition. Versions date from the last schedule step reached.
func (c *Cluster) appDefinition(ap *app, now time.Time) appJSON {
	scaled := c.start
	for _, st := range ap.spec.Schedule {
		if c.start.Add(st.At).After(now) {
			break
		}
		scaled = c.start.Add(st.At)
	}
	cons := ap.spec.Constraints
	if cons == nil {
		cons = [][]string{}
	}
	return appJSON{
		ID:                    ap.spec.ID,
		Cmd:                   "sleep 86400",
		Instances:             ap.wanted,
		CPUs:                  ap.spec.CPUs,
		Mem:                   ap.spec.MemMiB,
		Disk:                  ap.spec.DiskMiB,
		Constraints:           cons,
		AcceptedResourceRoles: []string{"*"},
		Role:                  c.role,
		PortDefinitions:       []struct{}{},
		BackoffSeconds:        1,
		BackoffFactor:         1.15,
		MaxLaunchDelaySeconds: 3600,
		KillSelection:         "YOUNGEST_FIRST",
		UpgradeStrategy:       map[string]float64{"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
		UnreachableStrategy:   map[string]float64{"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
		Version:               marathonTime(scaled),
		VersionInfo:           map[string]string{"lastScalingAt": marathonTime(scaled), "lastConfigChangeAt": marathonTime(c.start)},
	}
}

// queueJSONLocked renders GET /v2/queue: one item per application with copies to launch.
// Called with c.mu held, after syncLocked.
func (c *Cluster) queueJSONLocked(now time.Time) ([]byte, error) {
	type delay struct {
		TimeLeftSeconds int  `json:"timeLeftSeconds"`
		Overdue         bool `json:"overdue"`
	}
	type item struct {
		Count int     `json:"count"`
		Delay delay   `json:"delay"`
		Since string  `json:"since"`
		App   appJSON `json:"app"`
	}
	items := []item{}
	for _, ap := range c.apps {
		if n := ap.wanted - len(ap.tasks); n > 0 {
			items = append(items, item{
				Count: n, Delay: delay{Overdue: true}, Since: marathonTime(ap.queuedSince),
				App: c.appDefinition(ap, now),
			})
		}
	}
	return json.Marshal(map[string]any{"queue": items})
}

// appsJSONLocked renders GET /v2/apps. Called with c.mu held, after syncLocked.
func (c *Cluster) appsJSONLocked(now time.Time) ([]byte, error) {
	apps := make([]appJSON, len(c.apps))
	for i, ap := range c.apps {
		a := c.appDefinition(ap, now)
		running, zero := len(ap.tasks), 0
		a.TasksRunning, a.TasksHealthy, a.TasksStaged, a.TasksUnhealthy = &running, &zero, &zero, &zero
		a.Deployments = &[]struct{}{}
		apps[i] = a
	}
	return json.Marshal(map[string]any{"apps": apps})
}
