package leader

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

func TestNewRejectsUnusableConfig(t *testing.T) {
	servers := []string{"127.0.0.1:2181"}
	for _, tc := range []struct {
		name     string
		servers  []string
		path     string
		identity string
		timeout  time.Duration
	}{
		{"no servers", nil, "/ls/leader", "a", time.Second},
		{"empty server", []string{""}, "/ls/leader", "a", time.Second},
		{"relative path", servers, "ls/leader", "a", time.Second},
		{"root path", servers, "/", "a", time.Second},
		{"trailing slash", servers, "/ls/", "a", time.Second},
		{"empty component", servers, "/ls//leader", "a", time.Second},
		{"dot dot", servers, "/ls/../leader", "a", time.Second},
		{"reserved", servers, "/zookeeper/leader", "a", time.Second},
		{"no identity", servers, "/ls/leader", "", time.Second},
		{"tiny timeout", servers, "/ls/leader", "a", time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.servers, tc.path, tc.identity, tc.timeout, logr.Discard())
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New = %v, %v; want an error wrapping ErrInvalidConfig", e, err)
			}
		})
	}
	e, err := New(servers, "/ls/leader", "a", time.Second, logr.Discard())
	if err != nil {
		t.Fatalf("New with a valid config: %v", err)
	}
	if e.IsLeader() || e.Leader() != "" {
		t.Fatalf("before Run: IsLeader=%v Leader=%q; want false, \"\"", e.IsLeader(), e.Leader())
	}
	select {
	case <-e.Lost():
	default:
		t.Fatal("before Run: Lost() is open; want closed (not leading)")
	}
	select {
	case <-e.Leading():
		t.Fatal("before Run: Leading() is closed; want open")
	default:
	}
}

func TestSequenceOrdersMembersNumerically(t *testing.T) {
	got := sortMembers([]string{"member-0000000010", "other", "member-0000000002", "member-x", "member-0000000100"})
	want := []string{"member-0000000002", "member-0000000010", "member-0000000100"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sortMembers = %v, want %v", got, want)
	}
}

func TestExactlyOneLeaderAmongTwo(t *testing.T) {
	requireZK(t)
	path := testPath(t)
	a := startMember(t, zkServers, path, "a")
	b := startMember(t, zkServers, path, "b")
	watchdog(t, a, b)

	waitFor(t, 10*time.Second, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	leader, follower := a, b
	if b.IsLeader() {
		leader, follower = b, a
	}
	waitFor(t, 5*time.Second, "the follower to see the leader", func() bool { return follower.Leader() == leader.identity })

	// The choice holds: one leader, the same one, for a while.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if !leader.IsLeader() || follower.IsLeader() {
			t.Fatalf("leadership moved without cause: %s=%v %s=%v", leader.identity, leader.IsLeader(), follower.identity, follower.IsLeader())
		}
	}
	select {
	case <-leader.Leading():
	default:
		t.Error("the leader's Leading() is open")
	}
	select {
	case <-follower.Leading():
		t.Error("the follower's Leading() is closed")
	default:
	}
	if leader.Leader() != leader.identity {
		t.Errorf("leader's Leader() = %q, want %q", leader.Leader(), leader.identity)
	}

	names, ids := members(t, path)
	if len(names) != 2 {
		t.Fatalf("members under %s = %v, want 2 nodes", path, names)
	}
	if ids[0] != leader.identity || ids[1] != follower.identity {
		t.Fatalf("node identities lowest first = %v, want [%s %s]", ids, leader.identity, follower.identity)
	}
	if err := a.Run(context.Background()); err == nil {
		t.Error("a second Run on the same Elector returned nil, want an error")
	}
}

func TestStoppedLeaderFailsOverWithinSessionTimeout(t *testing.T) {
	requireZK(t)
	path := testPath(t)
	a := startMember(t, zkServers, path, "a")
	waitFor(t, 10*time.Second, "a to lead", a.IsLeader)
	b := startMember(t, zkServers, path, "b")
	watchdog(t, a, b)
	waitFor(t, 5*time.Second, "b to follow a", func() bool { return b.Leader() == "a" })

	start := time.Now()
	a.cancel() // as when the replica shuts down: Run closes the session
	tb := waitFor(t, sessionTimeout, "b to lead after a stopped", b.IsLeader)
	failover := tb.Sub(start)
	<-a.done
	if a.err != nil {
		t.Fatalf("a's Run: %v", a.err)
	}
	t.Logf("failover after the leader stopped: %v (session timeout %v)", failover, sessionTimeout)
	if failover >= sessionTimeout {
		t.Fatalf("failover took %v, want under the session timeout %v", failover, sessionTimeout)
	}
	if a.IsLeader() {
		t.Fatal("a still reports leadership after Run returned")
	}
	if b.Leader() != "b" {
		t.Fatalf("b's Leader() = %q, want b", b.Leader())
	}
	if names, ids := members(t, path); len(names) != 1 || ids[0] != "b" {
		t.Fatalf("members after a stopped = %v %v, want only b's node", names, ids)
	}
}

func TestKilledLeaderFailsOverWhenItsSessionExpires(t *testing.T) {
	requireZK(t)
	path := testPath(t)
	h := startHelper(t, path, "killed")
	select {
	case <-h.leading:
	case <-time.After(20 * time.Second):
		t.Fatal("the child elector did not lead within 20s")
	}
	b := startMember(t, zkServers, path, "b")
	waitFor(t, 5*time.Second, "b to follow the child", func() bool { return b.Leader() == "killed" })
	if b.IsLeader() {
		t.Fatal("b leads while the child leads")
	}

	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	// Nobody closes the dead leader's session: ZooKeeper expires it after the session timeout
	// since it last heard from the child (which pinged every third of it), on a tick boundary.
	// The slack covers a loaded machine (CI runs every package's tests at once).
	limit := sessionTimeout + tick + time.Second
	tb := waitFor(t, limit, "b to lead after the leader was killed", b.IsLeader)
	failover := tb.Sub(start)
	t.Logf("failover after SIGKILL of the leader: %v (session timeout %v, server tick %v)", failover, sessionTimeout, tick)
	if failover < sessionTimeout*2/3-tick {
		t.Fatalf("b led %v after the kill, before the dead leader's session could have expired", failover)
	}
}

func TestPartitionedLeaderStopsBeforeTheNextLeads(t *testing.T) {
	requireZK(t)
	for _, tc := range []struct {
		name string
		mode proxyMode
	}{
		{"blackhole", blackhole}, // packets vanish: the client only notices by its read timeout
		{"severed", severed},     // connections reset: the client notices at once
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testPath(t)
			px := startProxy(t, zkServers[0])
			a := startMember(t, []string{px.addr()}, path, "a")
			waitFor(t, 10*time.Second, "a to lead", a.IsLeader)
			b := startMember(t, zkServers, path, "b")
			watchdog(t, a, b)
			waitFor(t, 5*time.Second, "b to follow a", func() bool { return b.Leader() == "a" })
			oldNodes, _ := members(t, path)

			start := time.Now()
			px.cut(tc.mode)
			var aStopped, bLed time.Time
			deadline := start.Add(sessionTimeout + tick + 2*time.Second)
			for bLed.IsZero() && time.Now().Before(deadline) {
				// Sample a before b: a turning false must be seen before b turning true.
				aLeads, bLeads := a.IsLeader(), b.IsLeader()
				now := time.Now()
				if aStopped.IsZero() && !aLeads {
					aStopped = now
				}
				if !aStopped.IsZero() && aLeads {
					t.Fatalf("a led again %v after the cut, having stopped at %v", now.Sub(start), aStopped.Sub(start))
				}
				if bLeads {
					bLed = now
				}
				time.Sleep(500 * time.Microsecond)
			}
			switch {
			case aStopped.IsZero():
				t.Fatalf("a still leads %v after the cut", time.Since(start))
			case bLed.IsZero():
				t.Fatalf("b did not lead within %v of the cut", deadline.Sub(start))
			case !aStopped.Before(bLed):
				t.Fatalf("b led %v after the cut, before a stopped (%v)", bLed.Sub(start), aStopped.Sub(start))
			}
			failover := bLed.Sub(start)
			t.Logf("partition (%s): a stopped leading %v after the cut, b led %v after it: %v of margin (session timeout %v)",
				tc.name, aStopped.Sub(start).Round(time.Millisecond), failover.Round(time.Millisecond),
				bLed.Sub(aStopped).Round(time.Millisecond), sessionTimeout)
			// The client gives up after 2/3 of the session timeout of silence; the server keeps a
			// silent session for the whole timeout, rounded up to a tick.
			if stopped := aStopped.Sub(start); stopped > sessionTimeout*2/3+300*time.Millisecond {
				t.Errorf("a stopped leading %v after the cut, want within 2/3 of the session timeout", stopped)
			}
			if failover > sessionTimeout+tick+time.Second {
				t.Errorf("failover took %v, want within the session timeout and a tick", failover)
			}

			// Healed, a finds its session expired and joins again behind b, with a new node.
			px.heal()
			waitFor(t, 10*time.Second, "a to rejoin as b's follower", func() bool { return a.Leader() == "b" })
			names, ids := members(t, path)
			if len(names) != 2 || ids[0] != "b" || ids[1] != "a" {
				t.Fatalf("members after the heal = %v %v, want b's node then a's", names, ids)
			}
			for _, n := range oldNodes {
				if n == names[1] {
					t.Fatalf("a kept its old node %s across the expiry", n)
				}
			}
			for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				if a.IsLeader() || !b.IsLeader() {
					t.Fatalf("after the heal: a=%v b=%v, want b alone to lead", a.IsLeader(), b.IsLeader())
				}
			}
		})
	}
}

func TestSuccessionFollowsJoinOrder(t *testing.T) {
	requireZK(t)
	path := testPath(t)
	a := startMember(t, zkServers, path, "a")
	waitFor(t, 10*time.Second, "a to lead", a.IsLeader)
	b := startMember(t, zkServers, path, "b")
	waitFor(t, 5*time.Second, "b to follow", func() bool { return b.Leader() == "a" })
	c := startMember(t, zkServers, path, "c")
	waitFor(t, 5*time.Second, "c to follow", func() bool { return c.Leader() == "a" })
	watchdog(t, a, b, c)

	// The middle one leaves: c, which watched b, must now watch a, and nobody takes over.
	b.stop(t)
	time.Sleep(300 * time.Millisecond)
	if !a.IsLeader() || c.IsLeader() {
		t.Fatalf("after b left: a=%v c=%v, want a alone to lead", a.IsLeader(), c.IsLeader())
	}
	if names, ids := members(t, path); len(names) != 2 || ids[0] != "a" || ids[1] != "c" {
		t.Fatalf("members after b left = %v %v, want a then c", names, ids)
	}

	a.stop(t)
	waitFor(t, sessionTimeout, "c to lead after a left", c.IsLeader)
	if c.Leader() != "c" {
		t.Fatalf("c's Leader() = %q, want c", c.Leader())
	}
}

// TestRecoversAfterZooKeeperLosesItsData: the server is restarted with its data wiped, so it
// knows neither the sessions nor the nodes. The clients' old sessions can never come back; each
// elector replaces its connection after stallLimit and one of them leads again.
func TestRecoversAfterZooKeeperLosesItsData(t *testing.T) {
	requireZK(t)
	if restartWiped == nil {
		t.Skip("the ZooKeeper server is not this test's own ($ZK_SERVERS): cannot wipe it")
	}
	path := testPath(t)
	a := startMember(t, zkServers, path, "a")
	b := startMember(t, zkServers, path, "b")
	waitFor(t, 10*time.Second, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	if err := restartWiped(); err != nil {
		t.Fatal(err)
	}
	wiped := time.Now()
	waitFor(t, 35*time.Second, "a leader after the wipe", func() bool { return a.IsLeader() != b.IsLeader() })
	t.Logf("a leader again %s after the wipe", time.Since(wiped).Round(100*time.Millisecond))
}
