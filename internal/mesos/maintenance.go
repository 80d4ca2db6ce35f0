package mesos

// Mesos maintenance primitives (Mesos 0.25+), the way Lambda Scale drains agents before it
// terminates their instances.
//
// A machine is UP until an operator posts a maintenance schedule that names it: it is then
// DRAINING (frameworks get inverse offers, offers carry the unavailability), until POST
// /master/machine/down takes it DOWN (its agents are shut down and removed, their tasks become
// TASK_LOST, no agent from it may register) and POST /master/machine/up brings it back UP and
// removes it from the schedule. Mesos changes no mode by itself, whatever the unavailability
// says. The master identifies a machine by hostname and IP together: an agent belongs to a
// scheduled machine only when both match what the agent announced (the hostname compared without
// case), which is why MachineIDOf copies both from the agent.
//
// /master/state shows none of this in Mesos 1.x (the agents of a DRAINING machine stay active;
// "deactivated" and "drain_info" belong to the separate DRAIN_AGENT call of 1.9+), so callers
// read MaintenanceStatus.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paths of the maintenance endpoints on a Mesos master.
const (
	// PathMaintenanceSchedule reads (GET) or replaces (POST) the maintenance schedule.
	PathMaintenanceSchedule = "/master/maintenance/schedule"
	// PathMaintenanceStatus lists the DRAINING and DOWN machines (GET).
	PathMaintenanceStatus = "/master/maintenance/status"
	// PathMachineDown takes scheduled machines DOWN (POST).
	PathMachineDown = "/master/machine/down"
	// PathMachineUp brings DOWN machines back UP and out of the schedule (POST).
	PathMachineUp = "/master/machine/up"
)

// maxMaintenanceBody bounds the maintenance documents read from a master: a schedule of
// 10,000 machines is about 1 MiB.
const maxMaintenanceBody = 32 << 20

// ErrScheduleConflict is returned (wrapped) by UpdateSchedule when the maintenance schedule kept
// changing under it: another operator posted a schedule between its read and its write, or the
// schedule read back after the write does not hold what was written.
var ErrScheduleConflict = errors.New("maintenance schedule changed concurrently")

// MachineID names a machine in Mesos maintenance ("MachineID" in mesos.proto). The master matches
// it against the hostname an agent registered with and the IP of the agent's pid; both must match
// (the hostname without regard to case), and an omitted field is the empty string.
type MachineID struct {
	// Hostname is the hostname exactly as the agent registered it ("ip-10-0-2-121.ec2.internal").
	Hostname string `json:"hostname,omitempty"`
	// IP is the agent's IPv4 address as in its pid ("10.0.2.121").
	IP string `json:"ip,omitempty"`
}

// MachineIDOf returns the machine id the master gives agent a: its hostname as registered and
// the IP of its pid.
func MachineIDOf(a Agent) MachineID {
	return MachineID{Hostname: a.Hostname, IP: a.IP}
}

// Equal reports whether id and o name the same machine for the master: equal IPs and hostnames
// equal without regard to ASCII case.
func (id MachineID) Equal(o MachineID) bool {
	return id.IP == o.IP && strings.EqualFold(id.Hostname, o.Hostname)
}

// String renders the id as the master does in its error messages:
// {"hostname":"machine1","ip":"10.0.0.1"}.
func (id MachineID) String() string {
	b, _ := json.Marshal(id) // two strings cannot fail
	return string(b)
}

// validate applies the master's checks on one machine id (maintenance::validation::machine).
func (id MachineID) validate() error {
	if id.Hostname == "" && id.IP == "" {
		return errors.New("machine has neither hostname nor ip")
	}
	if id.IP != "" {
		if a, err := netip.ParseAddr(id.IP); err != nil || !a.Is4() {
			return fmt.Errorf("machine %s: ip %q is not an IPv4 address", id, id.IP)
		}
	}
	return nil
}

// Window is one maintenance window: machines and the interval during which they may be
// unavailable.
type Window struct {
	// Machines are the machines of the window ("machine_ids").
	Machines []MachineID
	// Start is when the machines may become unavailable ("unavailability.start", nanoseconds
	// since the Unix epoch on the wire).
	Start time.Time
	// Duration is how long they may stay unavailable from Start ("unavailability.duration",
	// nanoseconds on the wire). Ignored when Indefinite is true.
	Duration time.Duration
	// Indefinite is true for an unavailability without a duration (the machines may not come
	// back). It is kept so that another operator's window is written back as it was read.
	Indefinite bool
}

// Schedule is the master's maintenance schedule: a list of windows, each machine in at most one.
// Its JSON form is the master's ({"windows":[{"machine_ids":[...],"unavailability":{...}}]}).
type Schedule struct {
	// Windows are the maintenance windows in the master's order.
	Windows []Window
}

// Clone returns a deep copy of s.
func (s Schedule) Clone() Schedule {
	if s.Windows == nil {
		return Schedule{}
	}
	out := Schedule{Windows: make([]Window, len(s.Windows))}
	for i, w := range s.Windows {
		w.Machines = slices.Clone(w.Machines)
		out.Windows[i] = w
	}
	return out
}

// Contains reports whether machine id is in one of the schedule's windows.
func (s Schedule) Contains(id MachineID) bool {
	for _, w := range s.Windows {
		if slices.ContainsFunc(w.Machines, id.Equal) {
			return true
		}
	}
	return false
}

// Machines returns every machine of the schedule, window by window.
func (s Schedule) Machines() []MachineID {
	var out []MachineID
	for _, w := range s.Windows {
		out = append(out, w.Machines...)
	}
	return out
}

// WithWindow returns a copy of s with one more window holding those of machines that no window
// holds yet (a machine may appear only once in a schedule), unavailable from start for d. Every
// existing window is kept as it is. When every machine is already scheduled, the copy equals s.
func (s Schedule) WithWindow(machines []MachineID, start time.Time, d time.Duration) Schedule {
	out := s.Clone()
	var add []MachineID
	for _, m := range machines {
		if s.Contains(m) || slices.ContainsFunc(add, m.Equal) {
			continue
		}
		add = append(add, m)
	}
	if len(add) == 0 {
		return out
	}
	out.Windows = append(out.Windows, Window{Machines: add, Start: start, Duration: d})
	return out
}

// Without returns a copy of s without machines: they are taken out of their windows, a window
// left empty is dropped, and every other window is kept as it is. The master refuses a schedule
// that drops a DOWN machine; bring such machines up with MachinesUp, which also unschedules them.
func (s Schedule) Without(machines []MachineID) Schedule {
	if len(machines) == 0 {
		return s.Clone()
	}
	var out Schedule
	for _, w := range s.Windows {
		kept := make([]MachineID, 0, len(w.Machines))
		for _, m := range w.Machines {
			if !slices.ContainsFunc(machines, m.Equal) {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 && len(w.Machines) > 0 {
			continue
		}
		w.Machines = kept
		out.Windows = append(out.Windows, w)
	}
	return out
}

// Equal reports whether s and o have the same windows in the same order: the same machines (see
// MachineID.Equal) in the same order, start, and duration or lack of one.
func (s Schedule) Equal(o Schedule) bool {
	return slices.EqualFunc(s.Windows, o.Windows, func(a, b Window) bool {
		return a.Start.Equal(b.Start) && a.Indefinite == b.Indefinite &&
			(a.Indefinite || a.Duration == b.Duration) &&
			slices.EqualFunc(a.Machines, b.Machines, MachineID.Equal)
	})
}

// Validate applies the checks the master makes before accepting a schedule, except the one that
// needs its state (no DOWN machine may leave the schedule): every window has a machine and a
// non-negative duration, every machine a hostname or an IPv4 address, and no machine appears
// twice.
func (s Schedule) Validate() error {
	var seen []MachineID
	for i, w := range s.Windows {
		if len(w.Machines) == 0 {
			return fmt.Errorf("window %d has no machine", i)
		}
		if !w.Indefinite && w.Duration < 0 {
			return fmt.Errorf("window %d has a negative duration %v", i, w.Duration)
		}
		for _, m := range w.Machines {
			if err := m.validate(); err != nil {
				return fmt.Errorf("window %d: %w", i, err)
			}
			if slices.ContainsFunc(seen, m.Equal) {
				return fmt.Errorf("window %d: machine %s appears more than once in the schedule", i, m)
			}
			seen = append(seen, m)
		}
	}
	return nil
}

// nanos is a protobuf int64 "nanoseconds" field. Mesos writes a JSON number; a string is
// accepted too, as the proto3 JSON mapping writes 64-bit integers.
type nanos int64

// UnmarshalJSON accepts 1443830400000000000 and "1443830400000000000".
func (n *nanos) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("nanoseconds %s: %w", b, err)
	}
	*n = nanos(v)
	return nil
}

type wireTime struct {
	Nanoseconds *nanos `json:"nanoseconds"`
}

type wireUnavailability struct {
	Start    *wireTime `json:"start"`
	Duration *wireTime `json:"duration,omitempty"`
}

type wireWindow struct {
	MachineIDs     []MachineID         `json:"machine_ids"`
	Unavailability *wireUnavailability `json:"unavailability"`
}

type wireSchedule struct {
	Windows []wireWindow `json:"windows"`
}

func nanosPtr(v int64) *nanos { n := nanos(v); return &n }

// MarshalJSON writes the schedule in the master's JSON form, times in nanoseconds since the Unix
// epoch and durations in nanoseconds.
func (s Schedule) MarshalJSON() ([]byte, error) {
	w := wireSchedule{Windows: make([]wireWindow, len(s.Windows))}
	for i, win := range s.Windows {
		u := &wireUnavailability{Start: &wireTime{Nanoseconds: nanosPtr(win.Start.UnixNano())}}
		if !win.Indefinite {
			u.Duration = &wireTime{Nanoseconds: nanosPtr(int64(win.Duration))}
		}
		w.Windows[i] = wireWindow{MachineIDs: slices.Clone(win.Machines), Unavailability: u}
		if w.Windows[i].MachineIDs == nil {
			w.Windows[i].MachineIDs = []MachineID{}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the master's JSON form of a schedule; "{}" is the empty schedule. A window
// without an unavailability start is an error, as it is for the master.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var w wireSchedule
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decoding maintenance schedule: %w", err)
	}
	out := Schedule{}
	for i, ww := range w.Windows {
		u := ww.Unavailability
		if u == nil || u.Start == nil || u.Start.Nanoseconds == nil {
			return fmt.Errorf("decoding maintenance schedule: window %d has no unavailability start", i)
		}
		win := Window{Machines: ww.MachineIDs, Start: time.Unix(0, int64(*u.Start.Nanoseconds))}
		switch {
		case u.Duration == nil:
			win.Indefinite = true
		case u.Duration.Nanoseconds == nil:
			return fmt.Errorf("decoding maintenance schedule: window %d has a duration without nanoseconds", i)
		default:
			win.Duration = time.Duration(*u.Duration.Nanoseconds)
		}
		out.Windows = append(out.Windows, win)
	}
	*s = out
	return nil
}

// MaintenanceStatus is the answer of GET /master/maintenance/status ("ClusterStatus"): the
// DRAINING and DOWN machines. UP machines are not listed.
type MaintenanceStatus struct {
	// Draining are the DRAINING machines with the frameworks' answers to inverse offers.
	Draining []DrainingMachine
	// Down are the DOWN machines.
	Down []MachineID
}

// DrainingMachine is one DRAINING machine of a MaintenanceStatus.
type DrainingMachine struct {
	// ID is the machine.
	ID MachineID
	// Statuses are the latest answers of the frameworks running on the machine to their
	// inverse offers; the master forgets them when it fails over.
	Statuses []InverseOfferStatus
}

// InverseOfferStatus is a framework's latest answer to an inverse offer for a draining machine.
type InverseOfferStatus struct {
	// FrameworkID is the framework that answered ("framework_id.value").
	FrameworkID string
	// Status is "UNKNOWN" (no answer yet), "ACCEPT" (it will move its tasks away) or "DECLINE"
	// (it cannot).
	Status string
	// Timestamp is when the status last changed ("timestamp.nanoseconds"); zero when absent.
	Timestamp time.Time
}

// IsDraining reports whether machine id is DRAINING.
func (st MaintenanceStatus) IsDraining(id MachineID) bool {
	return slices.ContainsFunc(st.Draining, func(d DrainingMachine) bool { return d.ID.Equal(id) })
}

// IsDown reports whether machine id is DOWN.
func (st MaintenanceStatus) IsDown(id MachineID) bool {
	return slices.ContainsFunc(st.Down, id.Equal)
}

type wireInverseOfferStatus struct {
	Status      string `json:"status"`
	FrameworkID struct {
		Value string `json:"value"`
	} `json:"framework_id"`
	Timestamp *wireTime `json:"timestamp,omitempty"`
}

type wireDrainingMachine struct {
	ID       MachineID                `json:"id"`
	Statuses []wireInverseOfferStatus `json:"statuses,omitempty"`
}

type wireClusterStatus struct {
	DrainingMachines []wireDrainingMachine `json:"draining_machines,omitempty"`
	DownMachines     []MachineID           `json:"down_machines,omitempty"`
}

// MarshalJSON writes the status in the master's JSON form.
func (st MaintenanceStatus) MarshalJSON() ([]byte, error) {
	var w wireClusterStatus
	for _, d := range st.Draining {
		wd := wireDrainingMachine{ID: d.ID}
		for _, s := range d.Statuses {
			ws := wireInverseOfferStatus{Status: s.Status}
			ws.FrameworkID.Value = s.FrameworkID
			if !s.Timestamp.IsZero() {
				ws.Timestamp = &wireTime{Nanoseconds: nanosPtr(s.Timestamp.UnixNano())}
			}
			wd.Statuses = append(wd.Statuses, ws)
		}
		w.DrainingMachines = append(w.DrainingMachines, wd)
	}
	w.DownMachines = st.Down
	return json.Marshal(w)
}

// UnmarshalJSON reads the master's JSON form of the status; "{}" is a cluster without
// maintenance.
func (st *MaintenanceStatus) UnmarshalJSON(b []byte) error {
	var w wireClusterStatus
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decoding maintenance status: %w", err)
	}
	out := MaintenanceStatus{Down: w.DownMachines}
	for _, wd := range w.DrainingMachines {
		d := DrainingMachine{ID: wd.ID}
		for _, ws := range wd.Statuses {
			s := InverseOfferStatus{FrameworkID: ws.FrameworkID.Value, Status: ws.Status}
			if ws.Timestamp != nil && ws.Timestamp.Nanoseconds != nil {
				s.Timestamp = time.Unix(0, int64(*ws.Timestamp.Nanoseconds))
			}
			d.Statuses = append(d.Statuses, s)
		}
		out.Draining = append(out.Draining, d)
	}
	*st = out
	return nil
}

// GetSchedule reads the maintenance schedule from the leading master (GET
// /master/maintenance/schedule).
func (c *Client) GetSchedule(ctx context.Context) (Schedule, error) {
	var s Schedule
	if err := c.maintenance(ctx, http.MethodGet, PathMaintenanceSchedule, nil, &s); err != nil {
		return Schedule{}, fmt.Errorf("reading the maintenance schedule: %w", err)
	}
	return s, nil
}

// PostSchedule replaces the whole maintenance schedule of the leading master with s (POST
// /master/maintenance/schedule): machines that s adds become DRAINING, machines it leaves out go
// back UP. s is checked with Validate first. Mesos offers no compare-and-swap, so a schedule
// built from an earlier read silently undoes what another operator posted meanwhile; prefer
// UpdateSchedule.
func (c *Client) PostSchedule(ctx context.Context, s Schedule) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("posting the maintenance schedule: %w", err)
	}
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("posting the maintenance schedule: %w", err)
	}
	if err := c.maintenance(ctx, http.MethodPost, PathMaintenanceSchedule, body, nil); err != nil {
		return fmt.Errorf("posting the maintenance schedule: %w", err)
	}
	return nil
}

// MaintenanceStatus reads which machines are DRAINING and DOWN from the leading master (GET
// /master/maintenance/status), with the frameworks' answers to inverse offers.
func (c *Client) MaintenanceStatus(ctx context.Context) (MaintenanceStatus, error) {
	var st MaintenanceStatus
	if err := c.maintenance(ctx, http.MethodGet, PathMaintenanceStatus, nil, &st); err != nil {
		return MaintenanceStatus{}, fmt.Errorf("reading the maintenance status: %w", err)
	}
	return st, nil
}

// MachinesDown takes machines DOWN (POST /master/machine/down): the master shuts down and
// removes their agents, whose tasks become TASK_LOST, and refuses agents from them until
// MachinesUp. Every machine must be DRAINING (in the schedule and not yet DOWN), or the master
// refuses the whole request with 400. An empty list sends nothing.
func (c *Client) MachinesDown(ctx context.Context, machines []MachineID) error {
	if err := c.machines(ctx, PathMachineDown, machines); err != nil {
		return fmt.Errorf("taking %d machine(s) down: %w", len(machines), err)
	}
	return nil
}

// MachinesUp brings DOWN machines back UP and removes them from the maintenance schedule (POST
// /master/machine/up). Every machine must be DOWN, or the master refuses the whole request with
// 400. An empty list sends nothing.
func (c *Client) MachinesUp(ctx context.Context, machines []MachineID) error {
	if err := c.machines(ctx, PathMachineUp, machines); err != nil {
		return fmt.Errorf("bringing %d machine(s) up: %w", len(machines), err)
	}
	return nil
}

func (c *Client) machines(ctx context.Context, path string, machines []MachineID) error {
	if len(machines) == 0 {
		return nil
	}
	for i, m := range machines {
		if err := m.validate(); err != nil {
			return err
		}
		if slices.ContainsFunc(machines[:i], m.Equal) {
			return fmt.Errorf("machine %s is listed twice", m)
		}
	}
	body, err := json.Marshal(machines)
	if err != nil {
		return err
	}
	return c.maintenance(ctx, http.MethodPost, path, body, nil)
}

// UpdateSchedule changes the maintenance schedule with update, which gets a copy of the current
// schedule and returns the wanted one (typically s.WithWindow(...) or s.Without(...)). It returns
// the schedule read back after the change; when update changes nothing, nothing is posted.
//
// The master only replaces the whole schedule, without compare-and-swap, so a read-modify-write
// can race with another operator. UpdateSchedule narrows the race: it reads the schedule twice
// and posts only when both reads agree, then reads it back and checks that every machine of the
// posted schedule is there and every machine update removed is gone. When a check fails it starts
// over from a fresh read, a few times, then returns an error wrapping ErrScheduleConflict. A
// write by another operator between the second read and the post can still be undone; the
// master's own 400 answers (a DOWN machine left out) are returned at once. update runs once per
// attempt, each time on a fresh read.
func (c *Client) UpdateSchedule(ctx context.Context, update func(Schedule) Schedule) (Schedule, error) {
	const attempts = 3
	var conflict error
	for range attempts {
		cur, err := c.GetSchedule(ctx)
		if err != nil {
			return Schedule{}, fmt.Errorf("updating the maintenance schedule: %w", err)
		}
		next := update(cur.Clone())
		if err := next.Validate(); err != nil {
			return Schedule{}, fmt.Errorf("updating the maintenance schedule: the new schedule: %w", err)
		}
		if next.Equal(cur) {
			return cur, nil
		}
		again, err := c.GetSchedule(ctx)
		if err != nil {
			return Schedule{}, fmt.Errorf("updating the maintenance schedule: %w", err)
		}
		if !again.Equal(cur) {
			conflict = errors.New("the schedule changed between two reads")
			c.log.V(2).Info("Mesos maintenance schedule changed while updating it; retrying")
			continue
		}
		if err := c.PostSchedule(ctx, next); err != nil {
			return Schedule{}, fmt.Errorf("updating the maintenance schedule: %w", err)
		}
		after, err := c.GetSchedule(ctx)
		if err != nil {
			return Schedule{}, fmt.Errorf("updating the maintenance schedule: checking the result: %w", err)
		}
		if conflict = checkUpdate(cur, next, after); conflict == nil {
			return after, nil
		}
		c.log.V(2).Info("Mesos maintenance schedule read back differs from the one posted; retrying", "difference", conflict.Error())
	}
	return Schedule{}, fmt.Errorf("updating the maintenance schedule: %w after %d attempts: %w", ErrScheduleConflict, attempts, conflict)
}

// checkUpdate checks the schedule read back after posting next over prev: every machine of next
// is present, and every machine prev had and next dropped is absent.
func checkUpdate(prev, next, after Schedule) error {
	for _, m := range next.Machines() {
		if !after.Contains(m) {
			return fmt.Errorf("machine %s is missing after the update", m)
		}
	}
	for _, m := range prev.Machines() {
		if !next.Contains(m) && after.Contains(m) {
			return fmt.Errorf("machine %s is still scheduled after the update", m)
		}
	}
	return nil
}

// EndMaintenance ends the maintenance of machines whatever their mode, for use once their
// instances are gone: DOWN machines are brought up (MachinesUp, which unschedules them) and
// DRAINING ones are taken out of the schedule (UpdateSchedule with Without), so the schedule
// does not fill with dead machines. Machines that are not in maintenance are skipped.
func (c *Client) EndMaintenance(ctx context.Context, machines []MachineID) error {
	st, err := c.MaintenanceStatus(ctx)
	if err != nil {
		return fmt.Errorf("ending maintenance: %w", err)
	}
	var down, draining []MachineID
	for _, m := range machines {
		switch {
		case st.IsDown(m):
			down = append(down, m)
		case st.IsDraining(m):
			draining = append(draining, m)
		}
	}
	if err := c.MachinesUp(ctx, down); err != nil {
		return fmt.Errorf("ending maintenance: %w", err)
	}
	if len(draining) > 0 {
		if _, err := c.UpdateSchedule(ctx, func(s Schedule) Schedule { return s.Without(draining) }); err != nil {
			return fmt.Errorf("ending maintenance: %w", err)
		}
	}
	return nil
}

// maintenance sends one request to path on the leading master and decodes a 2xx JSON answer
// into out (when not nil). Like State, it follows a master that redirects to another leader
// (leadership changed since Leader), sending the body and the credentials again.
func (c *Client) maintenance(ctx context.Context, method, path string, body []byte, out any) error {
	base, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	const maxRedirects = 2
	for redirects := 0; ; {
		resp, err := c.send(ctx, method, base+path, body)
		if err != nil {
			return err
		}
		if isRedirect(resp.StatusCode) && redirects < maxRedirects {
			next, err := leaderFromLocation(base, resp.Header.Get("Location"))
			resp.Body.Close()
			if err != nil {
				return err
			}
			c.log.V(2).Info("Mesos master redirected to another leader", "master", base, "leader", next)
			base = next
			redirects++
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			err := statusError(resp)
			var se *StatusError
			if errors.As(err, &se) {
				se.Method = method
			}
			return err
		}
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxMaintenanceBody))
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxMaintenanceBody+1))
		if err != nil {
			return fmt.Errorf("%s %s: reading the answer: %w", method, base+path, err)
		}
		if len(b) > maxMaintenanceBody {
			return fmt.Errorf("%s %s: answer larger than %d bytes", method, base+path, maxMaintenanceBody)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			b = []byte("{}") // a master with no schedule may answer an empty body
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, base+path, err)
		}
		return nil
	}
}

// send sends one request with the Client's credentials, without following redirects.
func (c *Client) send(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lambdascale")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.creds.authorization != "" {
		req.Header.Set("Authorization", c.creds.authorization)
	}
	c.log.V(4).Info("Requesting Mesos master", "method", method, "url", u, "credentials", c.creds.String())
	return c.do(req)
}
