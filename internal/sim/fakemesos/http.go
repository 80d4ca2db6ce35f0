package fakemesos

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"
)

// Role names who answered a request, for Requests.
type Role string

// Roles of the simulated servers.
const (
	// RoleLeader is the leading Mesos master.
	RoleLeader Role = "leader"
	// RoleStandby is a Mesos master that does not lead.
	RoleStandby Role = "standby"
	// RoleMarathon is the Marathon server.
	RoleMarathon Role = "marathon"
)

type requestKey struct {
	role Role
	path string
}

// Master is one simulated Mesos master, an http.Handler. The masters of a Cluster share its
// state; one of them leads (the first created, until Failover).
//
// The leader answers GET /master/state (and /master/state.json, /state, /state.json) with the
// cluster's state in the Mesos 1.x shape, and GET /master/redirect (and /redirect) with 307 and
// the scheme-less "Location: //<leader host:port>". A standby answers /master/redirect the same
// way and, like a Mesos 1.x master that is not elected (Master::Http::state calls redirect),
// answers the state endpoints with 307 to "//<leader host:port><path>". The leader also serves
// the maintenance endpoints (see maintenance.go), which a standby redirects the same way. Other
// paths are 404.
type Master struct {
	c    *Cluster
	addr string // host:port
}

// NewMaster returns a master that says it listens on addr ("127.0.0.1:5050"), the address in
// its pid and in redirects to it. The first master of a Cluster leads.
func (c *Cluster) NewMaster(addr string) *Master {
	m := &Master{c: c, addr: addr}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.masters = append(c.masters, m)
	return m
}

// Addr returns the master's host:port.
func (m *Master) Addr() string { return m.addr }

// PID returns the master's libprocess pid ("master@127.0.0.1:5050").
func (m *Master) PID() string { return "master@" + m.addr }

// Failover moves leadership to the next master (in creation order) and returns it; the
// elected time becomes the clock's current time. It needs at least two masters.
func (c *Cluster) Failover() (*Master, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.masters) < 2 {
		return nil, fmt.Errorf("failing over: %d master(s), want at least 2", len(c.masters))
	}
	now := c.syncLocked()
	c.leader = (c.leader + 1) % len(c.masters)
	c.electedAt = now
	return c.masters[c.leader], nil
}

// SetDown makes the Mesos masters behave as when no leader is elected (down true): every
// master answers every known endpoint with 503 Service Unavailable, as Mesos 1.x does while it
// cannot find a leader. Marathon is unaffected (see SetMarathonDown).
func (c *Cluster) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// SetMarathonDown makes Marathon answer every request with 503 Service Unavailable.
func (c *Cluster) SetMarathonDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marathonOff = down
}

// SetLatency delays every answer of the Mesos masters by d of wall-clock time (not the
// simulation clock); a request canceled meanwhile gets no answer. Zero removes the delay.
func (c *Cluster) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = max(d, 0)
}

// FailNext makes the leading master answer its next n state requests (GET /master/state and
// its aliases) with the HTTP status (500 when status is not an error status) and a short text
// body. Redirects are not affected, so leader discovery still works.
func (c *Cluster) FailNext(n int, status int) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failN, c.failStatus = max(n, 0), status
}

// Requests returns how many requests for path ("/master/state") the servers playing role
// received, whatever they answered. A master's role is the one it had at the request.
func (c *Cluster) Requests(role Role, path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[requestKey{role, path}]
}

// ResetRequests forgets the request counts.
func (c *Cluster) ResetRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.requests)
}

// StartPair serves a leading and a standby master and a Marathon on loopback ports and returns
// the masters' base URLs ("http://127.0.0.1:port") and a function that stops the three servers
// and waits for requests in flight. MarathonURL returns Marathon's base URL once started.
func (c *Cluster) StartPair() (leaderURL, standbyURL string, stop func()) {
	ls := httptest.NewUnstartedServer(nil)
	ss := httptest.NewUnstartedServer(nil)
	ms := httptest.NewUnstartedServer(c.MarathonHandler())
	lm := c.NewMaster(ls.Listener.Addr().String())
	sm := c.NewMaster(ss.Listener.Addr().String())
	ls.Config.Handler, ss.Config.Handler = lm, sm
	ls.Start()
	ss.Start()
	ms.Start()
	c.mu.Lock()
	for i, m := range c.masters {
		if m == lm {
			c.leader = i
		}
	}
	c.marathonURL = ms.URL
	c.mu.Unlock()
	return ls.URL, ss.URL, func() {
		ls.Close()
		ss.Close()
		ms.Close()
	}
}

// MarathonURL returns the base URL of the Marathon started by StartPair; empty before.
func (c *Cluster) MarathonURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marathonURL
}

// Leader returns the leading master; nil when no master was created.
func (c *Cluster) Leader() *Master {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.masters) == 0 {
		return nil
	}
	return c.masters[c.leader]
}

// endpoint classifies a master path.
type endpoint int

const (
	epUnknown endpoint = iota
	epState
	epRedirect
	epHealth
	epSchedule // maintenance endpoints from here on
	epStatus
	epDown
	epUp
)

func masterEndpoint(path string) endpoint {
	switch path {
	case "/master/state", "/master/state.json", "/state", "/state.json":
		return epState
	case "/master/redirect", "/redirect":
		return epRedirect
	case "/master/health", "/health":
		return epHealth
	case "/master/maintenance/schedule", "/maintenance/schedule":
		return epSchedule
	case "/master/maintenance/status", "/maintenance/status":
		return epStatus
	case "/master/machine/down", "/machine/down":
		return epDown
	case "/master/machine/up", "/machine/up":
		return epUp
	}
	return epUnknown
}

// ServeHTTP answers one request to this master.
func (m *Master) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := m.c
	ep := masterEndpoint(r.URL.Path)
	c.mu.Lock()
	leader := c.masters[c.leader]
	role := RoleStandby
	if leader == m {
		role = RoleLeader
	}
	c.requests[requestKey{role, r.URL.Path}]++
	down, latency := c.down, c.latency
	fail := 0
	if role == RoleLeader && ep == epState && !down && c.failN > 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		c.failN--
		fail = c.failStatus
	}
	c.mu.Unlock()

	if !sleep(r, latency) {
		return
	}
	switch {
	case ep == epUnknown:
		http.NotFound(w, r)
	case ep >= epSchedule:
		switch {
		case down:
			http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		case role == RoleStandby:
			redirect(w, "//"+leader.addr+r.URL.RequestURI())
		default:
			c.serveMaintenance(w, r, ep)
		}
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Expecting 'GET', received '"+r.Method+"'", http.StatusMethodNotAllowed)
	case down:
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	case ep == epHealth:
		w.WriteHeader(http.StatusOK)
	case ep == epRedirect:
		// Mesos sends the leader's base URL for /redirect itself, to avoid a loop.
		redirect(w, "//"+leader.addr)
	case role == RoleStandby:
		redirect(w, "//"+leader.addr+r.URL.RequestURI())
	case fail != 0:
		http.Error(w, "simulated failure", fail)
	default:
		c.serveState(w, r, m)
	}
}

// redirect answers 307 with a Location Go would not rewrite (http.Redirect makes scheme-less
// URLs absolute paths).
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// sleep waits d of wall-clock time and reports whether the request is still wanted.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// serveState streams the leader's state.
func (c *Cluster) serveState(w http.ResponseWriter, r *http.Request, self *Master) {
	c.mu.Lock()
	snap := c.snapshotLocked(self)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// The status is sent; a failed write means the client went away.
	_ = snap.writeState(w)
}

// MarathonHandler returns the simulated Marathon: GET /v2/queue (the launch queue, in the
// Marathon 1.x shape), GET /v2/apps (the apps with their task counters) and GET /ping.
func (c *Cluster) MarathonHandler() http.Handler {
	return http.HandlerFunc(c.serveMarathon)
}

func (c *Cluster) serveMarathon(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests[requestKey{RoleMarathon, r.URL.Path}]++
	off := c.marathonOff
	c.mu.Unlock()
	switch r.URL.Path {
	case "/v2/queue", "/v2/apps", "/ping":
	default:
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, `{"message":"HTTP 405 Method Not Allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	if off {
		http.Error(w, `{"message":"Marathon is unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/ping" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("pong\n"))
		return
	}
	var (
		body []byte
		err  error
	)
	c.mu.Lock()
	now := c.syncLocked()
	if r.URL.Path == "/v2/queue" {
		body, err = c.queueJSONLocked(now)
	} else {
		body, err = c.appsJSONLocked(now)
	}
	c.mu.Unlock()
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"message":%q}`, err.Error()), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
