package fakemesos

// Mesos maintenance on the simulated leader, with the semantics of Mesos 1.x
// (src/master/http.cpp, src/master/maintenance.cpp, docs/maintenance.md):
//
//   - POST /master/maintenance/schedule replaces the whole schedule. Machines it adds are
//     DRAINING, machines it leaves out are UP again; a DOWN machine may not be left out. GET
//     returns it ("{}" when empty).
//   - POST /master/machine/down takes DRAINING machines DOWN: their agents are removed and their
//     tasks lost, and no agent from them registers until POST /master/machine/up, which takes
//     DOWN machines back UP and out of the schedule.
//   - GET /master/maintenance/status lists DRAINING machines (with Marathon's answer to the
//     inverse offers) and DOWN ones.
//   - Invalid requests get 400 with the master's message, wrong methods 405.
//
// A machine id names an agent when its hostname (without regard to ASCII case) and its IP both
// equal the agent's; an omitted field is the empty string, so a machine id with only an IP names
// no agent that registered with a hostname, exactly as on a real master.
//
// DRAINING agents accept no task, and Marathon moves a task off one DrainMoveAfter after the
// agent started draining or the task launched, whichever is later (it kills the task and the
// normal placement launches it again on another agent), unless its application ignores inverse
// offers. /master/state is not affected: Mesos 1.x shows no maintenance mode there.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// maxMaintenanceBody bounds the request bodies of the maintenance endpoints.
const maxMaintenanceBody = 8 << 20

// ErrNoApplication is returned (wrapped) for an application id that is not in the workload.
var ErrNoApplication = errors.New("no such application")

// schedWindow is one window of the maintenance schedule as posted.
type schedWindow struct {
	machines []mesos.MachineID
	start    int64  // nanoseconds since the Unix epoch
	duration *int64 // nanoseconds; nil when the window has none
}

// maintState is a machine of the schedule: DRAINING, or DOWN when down is set.
type maintState struct {
	id   mesos.MachineID
	down bool
}

// machineKey identifies a machine as the master compares machine ids.
func machineKey(id mesos.MachineID) string {
	return strings.ToLower(id.Hostname) + "\x00" + id.IP
}

// machineIDOf is the machine id of the agent machine m runs.
func machineIDOf(m Machine) mesos.MachineID {
	host := m.Hostname
	if host == "" {
		host = m.PrivateIP
	}
	return mesos.MachineID{Hostname: host, IP: m.PrivateIP}
}

func (a *agent) machineID() mesos.MachineID {
	return mesos.MachineID{Hostname: a.hostname, IP: a.machine.PrivateIP}
}

// isDown reports whether machine id is DOWN. Called with c.mu held.
func (c *Cluster) isDown(id mesos.MachineID) bool {
	m := c.maint[machineKey(id)]
	return m != nil && m.down
}

// updateDraining makes a draining from t when its machine is DRAINING, and not draining
// otherwise. Called with c.mu held.
func (c *Cluster) updateDraining(a *agent, t time.Time) {
	m := c.maint[machineKey(a.machineID())]
	draining := m != nil && !m.down
	switch {
	case draining && !a.draining:
		a.draining, a.drainingSince = true, t
	case !draining && a.draining:
		a.draining, a.drainingSince = false, time.Time{}
		a.inverse, a.inverseAt = "", time.Time{}
	}
}

// moveAt returns when Marathon moves task t off the draining agent a.
func (c *Cluster) moveAt(a *agent, t *task) time.Time {
	return later(t.started, a.drainingSince).Add(c.moveAfter)
}

// appendMoveDeadlines appends the times in (prev, now] at which Marathon moves tasks off
// draining agents, so that syncLocked replays them in order. Called with c.mu held.
func (c *Cluster) appendMoveDeadlines(events []time.Time, prev, now time.Time) []time.Time {
	if len(c.maint) == 0 {
		return events
	}
	for _, a := range c.agents {
		if !a.draining {
			continue
		}
		for _, t := range a.tasks {
			if d := c.moveAt(a, t); !t.app.spec.IgnoresInverseOffers && d.After(prev) && !d.After(now) {
				events = append(events, d)
			}
		}
	}
	return events
}

// moveDrained plays Marathon at time t: it answers the inverse offers of draining agents and
// kills the tasks due to move (syncWorkload then launches them elsewhere). Called with c.mu
// held.
func (c *Cluster) moveDrained(t time.Time) {
	if len(c.maint) == 0 {
		return
	}
	for _, a := range c.agents {
		if !a.draining {
			continue
		}
		c.answerInverseOffer(a, t)
		kept := a.tasks[:0]
		for _, tk := range a.tasks {
			if tk.app.spec.IgnoresInverseOffers || c.moveAt(a, tk).After(t) {
				kept = append(kept, tk)
				continue
			}
			ap := tk.app
			if i := slices.Index(ap.tasks, tk); i >= 0 {
				ap.tasks = slices.Delete(ap.tasks, i, i+1)
			}
			c.complete(tk, "TASK_KILLED", t)
			c.moved[ap.spec.ID]++
		}
		if len(kept) < len(a.tasks) {
			clear(a.tasks[len(kept):])
			a.tasks = kept
			c.updateUsed(a)
		}
	}
}

// answerInverseOffer records Marathon's answer for a draining agent that runs tasks: DECLINE
// when one of them ignores inverse offers, else ACCEPT. The last answer stays once the tasks are
// gone, as the master keeps it until the maintenance changes.
func (c *Cluster) answerInverseOffer(a *agent, t time.Time) {
	if len(a.tasks) == 0 {
		return
	}
	answer := "ACCEPT"
	for _, tk := range a.tasks {
		if tk.app.spec.IgnoresInverseOffers {
			answer = "DECLINE"
			break
		}
	}
	if answer != a.inverse {
		a.inverse, a.inverseAt = answer, t
	}
}

// Wire forms of the maintenance protobufs, read and written the way the master does
// (JSON::protobuf: unset fields and empty repeated fields are left out).
type (
	wireMachineID struct {
		Hostname *string `json:"hostname,omitempty"`
		IP       *string `json:"ip,omitempty"`
	}
	wireNanos struct {
		Nanoseconds *int64 `json:"nanoseconds,omitempty"`
	}
	wireUnavailability struct {
		Start    *wireNanos `json:"start,omitempty"`
		Duration *wireNanos `json:"duration,omitempty"`
	}
	wireWindow struct {
		MachineIDs     []wireMachineID     `json:"machine_ids,omitempty"`
		Unavailability *wireUnavailability `json:"unavailability,omitempty"`
	}
	wireSchedule struct {
		Windows []wireWindow `json:"windows,omitempty"`
	}
	wireFrameworkID struct {
		Value string `json:"value"`
	}
	wireInverseOfferStatus struct {
		Status      string          `json:"status"`
		FrameworkID wireFrameworkID `json:"framework_id"`
		Timestamp   wireNanos       `json:"timestamp"`
	}
	wireDrainingMachine struct {
		ID       wireMachineID            `json:"id"`
		Statuses []wireInverseOfferStatus `json:"statuses,omitempty"`
	}
	wireClusterStatus struct {
		DrainingMachines []wireDrainingMachine `json:"draining_machines,omitempty"`
		DownMachines     []wireMachineID       `json:"down_machines,omitempty"`
	}
)

func toWireID(id mesos.MachineID) wireMachineID {
	var w wireMachineID
	if id.Hostname != "" {
		w.Hostname = &id.Hostname
	}
	if id.IP != "" {
		w.IP = &id.IP
	}
	return w
}

func fromWireID(w wireMachineID) mesos.MachineID {
	var id mesos.MachineID
	if w.Hostname != nil {
		id.Hostname = *w.Hostname
	}
	if w.IP != nil {
		id.IP = *w.IP
	}
	return id
}

// machineText renders a machine id as the master's messages do (stringify(JSON::protobuf(id))).
func machineText(id mesos.MachineID) string {
	b, _ := json.Marshal(toWireID(id)) // two optional strings cannot fail
	return string(b)
}

// validateMachine is maintenance::validation::machine.
func validateMachine(id mesos.MachineID) string {
	if id.Hostname == "" && id.IP == "" {
		return "Both 'hostname' and 'ip' for a machine are empty"
	}
	if id.IP != "" {
		if a, err := netip.ParseAddr(id.IP); err != nil || !a.Is4() {
			return "Failed to parse IPv4: " + id.IP
		}
	}
	return ""
}

// parseSchedule reads a posted schedule and applies maintenance::validation::schedule. It
// returns the master's 400 message on error.
func (c *Cluster) parseSchedule(body []byte) ([]schedWindow, string) {
	var w wireSchedule
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, "Failed to parse JSON: " + err.Error()
	}
	var missing []string
	for i, ww := range w.Windows {
		u := ww.Unavailability
		switch {
		case u == nil:
			missing = append(missing, fmt.Sprintf("windows[%d].unavailability", i))
		case u.Start == nil:
			missing = append(missing, fmt.Sprintf("windows[%d].unavailability.start", i))
		case u.Start.Nanoseconds == nil:
			missing = append(missing, fmt.Sprintf("windows[%d].unavailability.start.nanoseconds", i))
		}
		if u != nil && u.Duration != nil && u.Duration.Nanoseconds == nil {
			missing = append(missing, fmt.Sprintf("windows[%d].unavailability.duration.nanoseconds", i))
		}
	}
	if len(missing) > 0 {
		return nil, "Missing required fields: " + strings.Join(missing, ", ")
	}
	out := make([]schedWindow, len(w.Windows))
	seen := map[string]bool{}
	for i, ww := range w.Windows {
		if len(ww.MachineIDs) == 0 {
			return nil, "List of machines in the maintenance window is empty"
		}
		u := ww.Unavailability
		sw := schedWindow{start: *u.Start.Nanoseconds}
		if u.Duration != nil {
			d := *u.Duration.Nanoseconds
			if d < 0 {
				return nil, "Unavailability 'duration' is negative"
			}
			sw.duration = &d
		}
		for _, wid := range ww.MachineIDs {
			id := fromWireID(wid)
			if msg := validateMachine(id); msg != "" {
				return nil, msg
			}
			if seen[machineKey(id)] {
				return nil, "Machine '" + machineText(id) + "' appears more than once in the schedule"
			}
			seen[machineKey(id)] = true
			sw.machines = append(sw.machines, id)
		}
		out[i] = sw
	}
	for _, w := range c.schedule {
		for _, id := range w.machines {
			if c.isDown(id) && !seen[machineKey(id)] {
				return nil, "Machine '" + machineText(id) + "' is deactivated and cannot be removed from the schedule"
			}
		}
	}
	return out, ""
}

// parseMachines reads the body of /machine/down or /machine/up and applies
// maintenance::validation::machines.
func parseMachines(body []byte) ([]mesos.MachineID, string) {
	var ws []wireMachineID
	if err := json.Unmarshal(body, &ws); err != nil {
		return nil, "Failed to parse JSON: " + err.Error()
	}
	if len(ws) == 0 {
		return nil, "List of machines is empty"
	}
	ids := make([]mesos.MachineID, len(ws))
	seen := map[string]bool{}
	for i, w := range ws {
		id := fromWireID(w)
		if msg := validateMachine(id); msg != "" {
			return nil, msg
		}
		if seen[machineKey(id)] {
			return nil, "Machine '" + machineText(id) + "' appears more than once in the schedule"
		}
		seen[machineKey(id)] = true
		ids[i] = id
	}
	return ids, ""
}

// postScheduleLocked replaces the schedule. Called with c.mu held, the state synced to now.
func (c *Cluster) postScheduleLocked(body []byte, now time.Time) string {
	windows, msg := c.parseSchedule(body)
	if msg != "" {
		return msg
	}
	maint := map[string]*maintState{}
	for _, w := range windows {
		for _, id := range w.machines {
			k := machineKey(id)
			if old := c.maint[k]; old != nil {
				maint[k] = old // DRAINING or DOWN machines keep their mode
			} else {
				maint[k] = &maintState{id: id}
			}
		}
	}
	c.schedule, c.maint = windows, maint
	for _, a := range c.agents {
		c.updateDraining(a, now)
	}
	c.moveDrained(now)
	c.syncWorkload(now) // machines left out take tasks again
	return ""
}

// machinesDownLocked is POST /master/machine/down. Called with c.mu held, the state synced to
// now.
func (c *Cluster) machinesDownLocked(body []byte, now time.Time) string {
	ids, msg := parseMachines(body)
	if msg != "" {
		return msg
	}
	for _, id := range ids {
		m := c.maint[machineKey(id)]
		if m == nil {
			return "Machine '" + machineText(id) + "' is not part of a maintenance schedule"
		}
		if m.down {
			return "Machine '" + machineText(id) + "' is not in DRAINING mode and cannot be brought down"
		}
	}
	for _, id := range ids {
		c.maint[machineKey(id)].down = true
	}
	kept := c.agents[:0]
	for _, a := range c.agents {
		if c.isDown(a.machineID()) {
			c.removeAgent(a, now) // "Operator initiated 'Machine DOWN'": tasks become TASK_LOST
			continue
		}
		kept = append(kept, a)
	}
	clear(c.agents[len(kept):])
	c.agents = kept
	c.syncWorkload(now) // the lost tasks are launched again elsewhere
	return ""
}

// machinesUpLocked is POST /master/machine/up. Called with c.mu held.
func (c *Cluster) machinesUpLocked(body []byte) string {
	ids, msg := parseMachines(body)
	if msg != "" {
		return msg
	}
	for _, id := range ids {
		m := c.maint[machineKey(id)]
		if m == nil {
			return "Machine '" + machineText(id) + "' is not part of a maintenance schedule"
		}
		if !m.down {
			return "Machine '" + machineText(id) + "' is not in DOWN mode and cannot be brought up"
		}
	}
	up := map[string]bool{}
	for _, id := range ids {
		up[machineKey(id)] = true
		delete(c.maint, machineKey(id))
	}
	kept := c.schedule[:0]
	for _, w := range c.schedule {
		w.machines = slices.DeleteFunc(w.machines, func(id mesos.MachineID) bool { return up[machineKey(id)] })
		if len(w.machines) > 0 {
			kept = append(kept, w)
		}
	}
	clear(c.schedule[len(kept):])
	c.schedule = kept
	return "" // agents of these machines register again at the next reading
}

// scheduleJSONLocked renders GET /master/maintenance/schedule. Called with c.mu held.
func (c *Cluster) scheduleJSONLocked() ([]byte, error) {
	var w wireSchedule
	for _, sw := range c.schedule {
		ww := wireWindow{Unavailability: &wireUnavailability{Start: &wireNanos{Nanoseconds: &sw.start}}}
		if sw.duration != nil {
			ww.Unavailability.Duration = &wireNanos{Nanoseconds: sw.duration}
		}
		for _, id := range sw.machines {
			ww.MachineIDs = append(ww.MachineIDs, toWireID(id))
		}
		w.Windows = append(w.Windows, ww)
	}
	return json.Marshal(w)
}

// statusJSONLocked renders GET /master/maintenance/status, machines in schedule order. Called
// with c.mu held.
func (c *Cluster) statusJSONLocked() ([]byte, error) {
	var w wireClusterStatus
	for _, sw := range c.schedule {
		for _, id := range sw.machines {
			if c.isDown(id) {
				w.DownMachines = append(w.DownMachines, toWireID(id))
				continue
			}
			dm := wireDrainingMachine{ID: toWireID(id)}
			k := machineKey(id)
			for _, a := range c.agents {
				if machineKey(a.machineID()) != k || a.inverse == "" {
					continue
				}
				ts := a.inverseAt.UnixNano()
				dm.Statuses = append(dm.Statuses, wireInverseOfferStatus{
					Status: a.inverse, FrameworkID: wireFrameworkID{c.frameworkID}, Timestamp: wireNanos{&ts},
				})
			}
			w.DrainingMachines = append(w.DrainingMachines, dm)
		}
	}
	return json.Marshal(w)
}

// serveMaintenance answers the leader's maintenance endpoints.
func (c *Cluster) serveMaintenance(w http.ResponseWriter, r *http.Request, ep endpoint) {
	allowed := []string{http.MethodPost}
	switch ep {
	case epSchedule:
		allowed = []string{http.MethodGet, http.MethodPost}
	case epStatus:
		allowed = []string{http.MethodGet}
	}
	if !slices.Contains(allowed, r.Method) {
		// libprocess's MethodNotAllowed.
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		http.Error(w, "405 Method Not Allowed. Expecting one of { '"+strings.Join(allowed, "', '")+
			"' }, but received '"+r.Method+"'.", http.StatusMethodNotAllowed)
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxMaintenanceBody))
		if err != nil {
			http.Error(w, "Failed to read the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		body = b
	}

	var (
		out []byte
		err error
		bad string
	)
	c.mu.Lock()
	now := c.syncLocked()
	switch {
	case ep == epSchedule && r.Method == http.MethodGet:
		out, err = c.scheduleJSONLocked()
	case ep == epSchedule:
		bad = c.postScheduleLocked(body, now)
	case ep == epStatus:
		out, err = c.statusJSONLocked()
	case ep == epDown:
		bad = c.machinesDownLocked(body, now)
	case ep == epUp:
		bad = c.machinesUpLocked(body)
	}
	c.mu.Unlock()

	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case bad != "":
		http.Error(w, bad, http.StatusBadRequest)
	case out != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// Schedule returns the maintenance schedule as the leader holds it.
func (c *Cluster) Schedule() mesos.Schedule {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s mesos.Schedule
	for _, sw := range c.schedule {
		w := mesos.Window{Machines: slices.Clone(sw.machines), Start: time.Unix(0, sw.start), Indefinite: sw.duration == nil}
		if sw.duration != nil {
			w.Duration = time.Duration(*sw.duration)
		}
		s.Windows = append(s.Windows, w)
	}
	return s
}

// KilledTasks returns, by application id, how many tasks were lost with their agent at the
// clock's current time: their machine went DOWN, or their instance left service, with the
// tasks still running. Tasks killed because the application's schedule shrank do not count.
func (c *Cluster) KilledTasks() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return countsCopy(c.killed)
}

// MovedTasks returns, by application id, how many tasks Marathon moved off DRAINING agents at
// the clock's current time (killed gracefully and launched again wherever they fit).
func (c *Cluster) MovedTasks() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return countsCopy(c.moved)
}

func countsCopy(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// ForcePlace launches a task of application appID on the agent agentID now, even when the agent
// is DRAINING or does not accept tasks, and whatever the application's constraints, as a
// framework that ignores maintenance would. The task needs its resources free on the agent.
// When the application already runs all the tasks it wants, its newest task on another agent
// is killed so that the count stays. On a DRAINING agent the task moves DrainMoveAfter later,
// like any other.
func (c *Cluster) ForcePlace(appID, agentID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.syncLocked()
	ap := c.byApp[appID]
	if ap == nil {
		return fmt.Errorf("placing a task of %q on agent %q: %w", appID, agentID, ErrNoApplication)
	}
	a := c.byID[agentID]
	if a == nil {
		return fmt.Errorf("placing a task of %q on agent %q: %w", appID, agentID, ErrNoAgent)
	}
	if need := ap.demand.Add(c.overhead); !need.Fits(a.total.Sub(a.used)) {
		return fmt.Errorf("placing a task of %q on agent %q: %+v does not fit in the free %+v", appID, agentID, need, a.total.Sub(a.used).NonNegative())
	}
	if len(ap.tasks) >= ap.wanted {
		if ap.wanted == 0 {
			return fmt.Errorf("placing a task of %q on agent %q: the application wants no task now", appID, agentID)
		}
		i := len(ap.tasks) - 1
		for ; i >= 0 && ap.tasks[i].agentID == a.id; i-- {
		}
		if i < 0 {
			return fmt.Errorf("placing a task of %q on agent %q: every task of the application runs there", appID, agentID)
		}
		t := ap.tasks[i]
		ap.tasks = slices.Delete(ap.tasks, i, i+1)
		if from := c.byID[t.agentID]; from != nil {
			if j := slices.Index(from.tasks, t); j >= 0 {
				from.tasks = slices.Delete(from.tasks, j, j+1)
			}
			c.updateUsed(from)
		}
		c.complete(t, "TASK_KILLED", now)
	}
	c.launch(ap, a, now)
	return nil
}
