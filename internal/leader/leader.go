// Package leader elects one active Lambda Scale controller among replicas (--leader-elect),
// through the ZooKeeper ensemble that every Mesos cluster already runs.
//
// Each replica joins by creating an ephemeral sequential znode <path>/member-NNNNNNNNNN holding
// its identity. The replica whose node has the lowest sequence number is the leader; every other
// replica watches only the node just before its own (no herd effect when the leader goes), and a
// replica whose session expired joins again with a new node, at the back of the line.
//
// What the package guarantees: IsLeader is true only while this replica's ZooKeeper session is
// connected and the server confirmed, under that very session, that its node is the lowest.
// It turns false the moment the client leaves the connected state, and it is never true again
// for a node of an old session. The go-zookeeper client gives up on a silent connection after
// two thirds of the negotiated session timeout, while the server keeps a silent session (and so
// the leader's node) for at least the whole session timeout: a partitioned leader stops
// reporting leadership about a third of a session timeout before anyone else can take over.
// A leader that stops cleanly (its Run context is cancelled) closes its session, so ZooKeeper
// deletes its node at once and the next replica takes over within a round trip; a leader that
// dies or is cut off is replaced once the server expires its session, after one session timeout
// (rounded up to the server's tick).
//
// What it must not do, and what callers must not do with it:
//   - It never writes to AWS or Mesos, and takes no part in reconciling: it only answers "may
//     this replica act now". The controller must call IsLeader immediately before every write to
//     AWS or Mesos and must not cache the answer, nor let a write that started as leader outlive
//     a fraction of the session timeout (ZooKeeper election gives no fencing token that AWS or
//     Mesos could check).
//   - It must not report leadership from a stale view: no lease is extended on its own, no
//     leadership is assumed while disconnected, and a reconnect within the same session needs a
//     fresh confirmation from the server before IsLeader is true again.
//   - It must not watch every member (herd effect), nor keep more than one node per session.
//   - It stores nothing in ZooKeeper but the persistent parent path and its own ephemeral node.
package leader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-zookeeper/zk"
)

// memberPrefix is the name prefix of each replica's ephemeral sequential node.
const memberPrefix = "member-"

// ErrInvalidConfig is wrapped by the errors New returns for unusable arguments.
var ErrInvalidConfig = errors.New("invalid leader election configuration")

// Elector takes part in the election for one replica. Create it with New, start it with Run, and
// ask IsLeader before every write. Its methods are safe for concurrent use.
type Elector struct {
	servers  []string
	path     string
	identity string
	timeout  time.Duration
	log      logr.Logger

	started atomic.Bool
	// wake is signalled (without blocking, coalescing) on every session state change.
	wake chan struct{}

	mu sync.Mutex
	// conn is the ZooKeeper client while Run runs, nil before.
	conn *zk.Conn
	// leading is true from the server's confirmation until the first sign of trouble.
	leading bool
	// term is the session under which leading was confirmed.
	term int64
	// node is this replica's znode (full path) and nodeSession the session that owns it.
	node        string
	nodeSession int64
	// leader is the identity of the leader as last observed, "" when unknown.
	leader string
	// leadingCh is closed while leading; lostCh is closed while not leading.
	leadingCh chan struct{}
	lostCh    chan struct{}
}

// New returns an Elector for the ZooKeeper servers (host:port each) that elects among the
// members under path (e.g. /lambdascale/leader, created when missing). identity names this
// replica in its node and in other replicas' Leader (e.g. hostname:pid); sessionTimeout is the
// ZooKeeper session timeout to ask for: the server may clamp it to its own bounds (by default
// 2 to 20 ticks of 2 s), and the client uses the negotiated value.
func New(servers []string, path, identity string, sessionTimeout time.Duration, log logr.Logger) (*Elector, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: no ZooKeeper servers", ErrInvalidConfig)
	}
	for _, s := range servers {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: empty ZooKeeper server in %q", ErrInvalidConfig, servers)
		}
	}
	if err := validatePath(path); err != nil {
		return nil, err
	}
	if identity == "" {
		return nil, fmt.Errorf("%w: empty identity", ErrInvalidConfig)
	}
	if sessionTimeout < 100*time.Millisecond {
		return nil, fmt.Errorf("%w: session timeout %v is under 100ms", ErrInvalidConfig, sessionTimeout)
	}
	lost := make(chan struct{})
	close(lost)
	return &Elector{
		servers:   slices.Clone(servers),
		path:      path,
		identity:  identity,
		timeout:   sessionTimeout,
		log:       log,
		wake:      make(chan struct{}, 1),
		leadingCh: make(chan struct{}),
		lostCh:    lost,
	}, nil
}

// validatePath accepts an absolute ZooKeeper path other than the root, without a trailing
// slash, empty, "." or ".." components.
func validatePath(p string) error {
	if !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%w: ZooKeeper path %q must be absolute, not the root, without a trailing /", ErrInvalidConfig, p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("%w: ZooKeeper path %q has an empty, . or .. component", ErrInvalidConfig, p)
		}
	}
	if p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
		return fmt.Errorf("%w: ZooKeeper path %q is under /zookeeper, which the server reserves", ErrInvalidConfig, p)
	}
	return nil
}

// Run takes part in the election until ctx is cancelled, then closes the session so that
// ZooKeeper deletes this replica's node at once and the next replica takes over without waiting
// for the session timeout. It returns nil after a cancellation, and an error only when the
// election cannot go on (ZooKeeper refused access to path, or Run was already called): lost
// connections and expired sessions are retried, with a new node after an expiry. Run may be
// called once per Elector.
func (e *Elector) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("leader: Run was already called on this Elector")
	}
	connect := func() (*zk.Conn, error) {
		conn, events, err := zk.Connect(e.servers, e.timeout,
			zk.WithLogger(zkLogger{e.log.WithName("zk")}),
			zk.WithLogInfo(false),
			zk.WithEventCallback(e.onEvent))
		if err != nil {
			return nil, fmt.Errorf("leader: connecting to ZooKeeper %v: %w", e.servers, err)
		}
		go func() {
			// The callback does the work; the channel only needs draining until Close closes it.
			for range events {
			}
		}()
		e.mu.Lock()
		e.conn = conn
		e.mu.Unlock()
		return conn, nil
	}
	conn, err := connect()
	if err != nil {
		return err
	}
	defer func() {
		e.demote("stopping")
		e.mu.Lock()
		c := e.conn
		e.mu.Unlock()
		c.Close()
		e.log.Info("Left the leader election", "path", e.path)
	}()

	e.log.Info("Joining the ZooKeeper election", "servers", e.servers, "path", e.path, "identity", e.identity, "sessionTimeout", e.timeout.String())
	delay := time.Duration(0)
	for {
		ok, stalled := e.waitSession(ctx, conn)
		if stalled {
			// The client keeps offering a session the servers no longer know (their data was
			// wiped, say) and never gets a new one: start over with a fresh connection.
			e.log.Info("No ZooKeeper session for too long, reconnecting", "after", e.stallLimit().String())
			e.demote("no session")
			conn.Close()
			if conn, err = connect(); err != nil {
				return err
			}
			continue
		}
		if !ok {
			return nil
		}
		watch, err := e.step(conn, conn.SessionID())
		switch {
		case err != nil && fatal(err):
			return err
		case err != nil:
			delay = min(max(2*delay, 100*time.Millisecond), 2*time.Second)
			e.log.V(1).Info("Leader election step failed, retrying", "error", err.Error(), "in", delay.String())
			if !e.sleep(ctx, delay) {
				return nil
			}
			continue
		}
		delay = 0
		if watch == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		case <-e.wake:
		}
	}
}

// step brings this replica's membership up to date under session sid: it joins when the session
// owns no node, then promotes it when its node is the lowest, or watches its predecessor. It
// returns the channel to wait on before the next step, or nil to step again at once.
func (e *Elector) step(conn *zk.Conn, sid int64) (<-chan zk.Event, error) {
	node := e.nodeOf(sid)
	if node == "" {
		var err error
		if node, err = e.join(conn, sid); err != nil {
			return nil, err
		}
	}
	children, _, err := conn.Children(e.path)
	if err != nil {
		return nil, fmt.Errorf("leader: listing the members under %s: %w", e.path, err)
	}
	members := sortMembers(children)
	idx := slices.Index(members, path.Base(node))
	if idx < 0 {
		// Our node is gone though the session lives (deleted by hand): join again.
		e.log.Info("This replica's node vanished, joining again", "node", node)
		e.demote("node vanished")
		e.forgetNode(node)
		return nil, nil
	}
	if idx == 0 {
		ok, _, watch, err := conn.ExistsW(node)
		if err != nil {
			return nil, fmt.Errorf("leader: watching own node %s: %w", node, err)
		}
		if !ok {
			e.forgetNode(node)
			return nil, nil
		}
		e.promote(conn, sid, node)
		return watch, nil
	}

	e.demote("not the lowest node")
	leaderNode := path.Join(e.path, members[0])
	data, _, err := conn.Get(leaderNode)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil, nil // the leader just left: look again
	case err != nil:
		return nil, fmt.Errorf("leader: reading the leader's node %s: %w", leaderNode, err)
	}
	e.setLeader(string(data))
	pred := path.Join(e.path, members[idx-1])
	ok, _, watch, err := conn.ExistsW(pred)
	if err != nil {
		return nil, fmt.Errorf("leader: watching predecessor %s: %w", pred, err)
	}
	if !ok {
		return nil, nil // the predecessor just left: look again
	}
	e.log.V(1).Info("Following", "leader", string(data), "node", node, "watching", pred)
	return watch, nil
}

// join gives session sid its node: it adopts one the session already owns (a create whose reply
// was lost with the connection) or creates one, creating the parent path when missing.
func (e *Elector) join(conn *zk.Conn, sid int64) (string, error) {
	children, _, err := conn.Children(e.path)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return "", fmt.Errorf("leader: listing the members under %s: %w", e.path, err)
	}
	var mine []string
	for _, c := range sortMembers(children) {
		p := path.Join(e.path, c)
		ok, stat, err := conn.Exists(p)
		if err != nil {
			return "", fmt.Errorf("leader: reading member %s: %w", p, err)
		}
		if ok && stat.EphemeralOwner == sid {
			mine = append(mine, p)
		}
	}
	if len(mine) > 0 {
		for _, extra := range mine[1:] {
			if err := conn.Delete(extra, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return "", fmt.Errorf("leader: deleting duplicate node %s: %w", extra, err)
			}
		}
		e.setNode(mine[0], sid)
		e.log.Info("Adopted this session's node", "node", mine[0])
		return mine[0], nil
	}

	prefix := path.Join(e.path, memberPrefix)
	node, err := conn.Create(prefix, []byte(e.identity), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNoNode) {
		if err := e.ensurePath(conn); err != nil {
			return "", err
		}
		node, err = conn.Create(prefix, []byte(e.identity), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	}
	if err != nil {
		return "", fmt.Errorf("leader: creating member node under %s: %w", e.path, err)
	}
	e.setNode(node, sid)
	e.log.Info("Joined the ZooKeeper election", "node", node)
	return node, nil
}

// ensurePath creates e.path and its missing ancestors as persistent nodes.
func (e *Elector) ensurePath(conn *zk.Conn) error {
	p := ""
	for _, c := range strings.Split(e.path[1:], "/") {
		p += "/" + c
		_, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("leader: creating election path %s: %w", p, err)
		}
	}
	return nil
}

// sortMembers keeps the member nodes among names and sorts them by sequence number.
func sortMembers(names []string) []string {
	members := make([]string, 0, len(names))
	for _, n := range names {
		if _, ok := sequence(n); ok {
			members = append(members, n)
		}
	}
	slices.SortFunc(members, func(a, b string) int {
		sa, _ := sequence(a)
		sb, _ := sequence(b)
		return cmp.Compare(sa, sb)
	})
	return members
}

// sequence returns the sequence number ZooKeeper appended to a member node's name.
func sequence(name string) (int64, bool) {
	if !strings.HasPrefix(name, memberPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(memberPrefix):], 10, 64)
	return n, err == nil && n >= 0
}

// fatal tells whether err means the election cannot go on however often it is retried.
func fatal(err error) bool {
	for _, f := range []error{zk.ErrNoAuth, zk.ErrAuthFailed, zk.ErrInvalidACL, zk.ErrBadArguments, zk.ErrInvalidPath, zk.ErrNoChildrenForEphemerals} {
		if errors.Is(err, f) {
			return true
		}
	}
	return false
}

// onEvent runs on the ZooKeeper client's goroutines, right after the client changed its state:
// anything but a live session ends leadership before the client does anything else.
func (e *Elector) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	if ev.State != zk.StateHasSession {
		e.demote("session state " + ev.State.String())
		e.setLeader("")
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// waitSession waits until conn has a session; false means ctx was cancelled first.
//
// stalled is true when no session came for stallLimit: the caller should reconnect.
func (e *Elector) waitSession(ctx context.Context, conn *zk.Conn) (ok, stalled bool) {
	limit := time.NewTimer(e.stallLimit())
	defer limit.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-ctx.Done():
			return false, false
		case <-e.wake:
		case <-limit.C:
			return false, true
		}
	}
	return ctx.Err() == nil, false
}

// stallLimit is how long a connection may go without a session before it is replaced: four
// session timeouts, at least 10 s (a live ensemble answers well within that).
func (e *Elector) stallLimit() time.Duration {
	return max(4*e.timeout, 10*time.Second)
}

// sleep waits for d, a session change or ctx; false means ctx was cancelled.
func (e *Elector) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-e.wake:
	}
	return true
}

// promote makes this replica the leader, provided conn is still in session sid.
func (e *Elector) promote(conn *zk.Conn, sid int64, node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if conn.State() != zk.StateHasSession || conn.SessionID() != sid || e.node != node || e.nodeSession != sid {
		return
	}
	e.leader = e.identity
	e.term = sid
	if e.leading {
		return
	}
	e.leading = true
	close(e.leadingCh)
	e.lostCh = make(chan struct{})
	e.log.Info("Became the leader", "node", node, "session", fmt.Sprintf("%#x", sid))
}

// demote ends leadership, if this replica had it.
func (e *Elector) demote(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading {
		return
	}
	e.leading = false
	close(e.lostCh)
	e.leadingCh = make(chan struct{})
	e.log.Info("Stopped leading", "reason", reason)
}

func (e *Elector) nodeOf(sid int64) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nodeSession != sid {
		return ""
	}
	return e.node
}

func (e *Elector) setNode(node string, sid int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.node, e.nodeSession = node, sid
}

func (e *Elector) forgetNode(node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.node == node {
		e.node, e.nodeSession = "", 0
	}
}

func (e *Elector) setLeader(identity string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leader = identity
}

// IsLeader tells whether this replica may act now: its session is connected and the server
// confirmed, under that session, that its node is the lowest. It turns false as soon as the
// client leaves the connected state. Call it immediately before every write to AWS or Mesos.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading && e.conn != nil &&
		e.conn.State() == zk.StateHasSession && e.conn.SessionID() == e.term
}

// Leading returns a channel that is closed while this replica leads: already closed when it
// leads now, else closed when it next becomes the leader. It notifies; IsLeader decides.
func (e *Elector) Leading() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leadingCh
}

// Lost returns a channel that is closed when this replica's current leadership ends (already
// closed when it does not lead), so that work started as leader can be cancelled.
func (e *Elector) Lost() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lostCh
}

// Leader returns the identity of the leader as this replica last saw it, for status and logs:
// its own identity while it leads, "" while it has no session or has not looked yet. A follower
// learns of a new leader only when it is next in line or re-joins, so the answer may lag.
func (e *Elector) Leader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader
}

// Identity returns the identity this replica stores in its node.
func (e *Elector) Identity() string { return e.identity }

// zkLogger sends the ZooKeeper client's messages to logr (at V(1)) instead of stdout.
type zkLogger struct{ log logr.Logger }

// Printf implements zk.Logger.
func (l zkLogger) Printf(format string, args ...any) {
	l.log.V(1).Info(fmt.Sprintf(format, args...))
}
