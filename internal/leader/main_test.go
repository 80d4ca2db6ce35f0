package leader

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/go-zookeeper/zk"
)

const (
	// sessionTimeout is the session timeout the tests ask for; hack/zookeeper.sh's server
	// (tickTime 200 ms) grants it as is.
	sessionTimeout = 4 * time.Second

	// helperEnv makes the test binary run one elector as a child process (see runHelper).
	helperEnv = "LEADER_TEST_HELPER"
)

var (
	// tick is the server's tickTime ($ZK_TICK_MS, else hack/zookeeper.sh's default 200 ms): the
	// server expires sessions on tick boundaries, so a silent session lives between
	// sessionTimeout and sessionTimeout+tick.
	tick = 200 * time.Millisecond

	// zkServers is the ZooKeeper ensemble under test; empty when none could be had.
	zkServers []string
	// zkSkip says why the tests that need ZooKeeper are skipped.
	zkSkip string
	// restartWiped stops the test's own server, deletes its data (every session and node is
	// forgotten) and starts it again on the same port; nil when $ZK_SERVERS is used.
	restartWiped func() error
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	if ms, err := strconv.Atoi(os.Getenv("ZK_TICK_MS")); err == nil && ms > 0 {
		tick = time.Duration(ms) * time.Millisecond
	}
	stop, err := startZooKeeper()
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "internal/leader: CI needs a real ZooKeeper: %v\n", err)
			os.Exit(1)
		}
		zkSkip = fmt.Sprintf("no ZooKeeper: ZK_SERVERS is unset and hack/zookeeper.sh could not start one: %v", err)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startZooKeeper uses $ZK_SERVERS when set; otherwise it starts a server of its own through
// hack/zookeeper.sh (installing Debian's package when missing) on a free loopback port, in a
// temporary directory, tied to this process, and returns the function that stops it.
func startZooKeeper() (stop func(), err error) {
	stop = func() {}
	if env := os.Getenv("ZK_SERVERS"); env != "" {
		zkServers = strings.Split(env, ",")
		return stop, nil
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "zookeeper.sh"))
	if err != nil {
		return stop, fmt.Errorf("locating hack/zookeeper.sh: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return stop, err
	}
	dir, err := os.MkdirTemp("", "lambdascale-zk-test-")
	if err != nil {
		return stop, fmt.Errorf("making ZooKeeper's directory: %w", err)
	}
	env := append(os.Environ(),
		"ZK_PORT="+strconv.Itoa(port),
		"ZK_DIR="+dir,
		"ZK_OWNER_PID="+strconv.Itoa(os.Getpid()))
	run := func(ctx context.Context, arg string) (string, error) {
		cmd := exec.CommandContext(ctx, "bash", script, arg)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("hack/zookeeper.sh %s: %w: %s", arg, err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}

	// Installing the package the first time takes a while; starting takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, "start")
	if err != nil {
		_ = os.RemoveAll(dir)
		return stop, err
	}
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ZK_SERVERS="); ok {
			zkServers = strings.Split(v, ",")
		}
	}
	restartWiped = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := run(ctx, "stop"); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
			return err
		}
		_, err := run(ctx, "start")
		return err
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := run(ctx, "stop"); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		_ = os.RemoveAll(dir)
	}
	if len(zkServers) == 0 {
		stop()
		return func() {}, fmt.Errorf("hack/zookeeper.sh start printed no ZK_SERVERS line: %q", out)
	}
	return stop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// requireZK skips t when there is no ZooKeeper to test against (never in CI: TestMain fails).
func requireZK(t *testing.T) {
	t.Helper()
	if len(zkServers) == 0 {
		t.Skip(zkSkip)
	}
}

// testPath returns an election path of t's own.
func testPath(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return "/lambdascale-test/" + name + "-" + hex.EncodeToString(b[:])
}

// testLogger writes to t.Log (shown on failure or with -v) until t ends, then drops lines.
func testLogger(t *testing.T, name string) logr.Logger {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Log(prefix, args)
		}
	}, funcr.Options{Verbosity: 1, LogTimestamp: true, TimestampFormat: "15:04:05.000"}).WithName(name)
}

// member is an Elector running in this process.
type member struct {
	*Elector
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels Run and waits for it to return.
func (m *member) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Run did not return within 10s of cancellation", m.identity)
	}
	if m.err != nil {
		t.Errorf("%s: Run: %v", m.identity, m.err)
	}
}

// startMember runs an Elector for identity on servers until t ends.
func startMember(t *testing.T, servers []string, path, identity string) *member {
	t.Helper()
	e, err := New(servers, path, identity, sessionTimeout, testLogger(t, identity))
	if err != nil {
		t.Fatalf("New(%s): %v", identity, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{Elector: e, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.err = e.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}

// waitFor polls cond every millisecond until it holds and returns when it first did.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// watchdog samples the electors every millisecond until t ends and fails t if two of them
// ever report leadership at once.
func watchdog(t *testing.T, members ...*member) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	var violation atomic.Value
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			var leaders []string
			for _, m := range members {
				if m.IsLeader() {
					leaders = append(leaders, m.identity)
				}
			}
			if len(leaders) > 1 && violation.Load() == nil {
				violation.Store(fmt.Sprintf("%v led at once at %s", leaders, time.Now().Format("15:04:05.000")))
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if v := violation.Load(); v != nil {
			t.Errorf("split brain: %s", v)
		}
	})
}

// members lists the member nodes under path, lowest first, with their data.
func members(t *testing.T, path string) (names, identities []string) {
	t.Helper()
	conn, _, err := zk.Connect(zkServers, sessionTimeout, zk.WithLogger(zkLogger{logr.Discard()}))
	if err != nil {
		t.Fatalf("connecting to ZooKeeper: %v", err)
	}
	defer conn.Close()
	children, _, err := conn.Children(path)
	if err != nil {
		t.Fatalf("listing %s: %v", path, err)
	}
	names = sortMembers(children)
	for _, n := range names {
		data, _, err := conn.Get(path + "/" + n)
		if err != nil {
			t.Fatalf("reading %s/%s: %v", path, n, err)
		}
		identities = append(identities, string(data))
	}
	return names, identities
}

// proxy is a loopback TCP proxy to ZooKeeper that the tests can cut, to partition one elector.
type proxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	mode  proxyMode
	conns map[*proxyConn]struct{}
}

type proxyMode int

const (
	// forwarding passes bytes both ways.
	forwarding proxyMode = iota
	// blackhole silently drops every byte on open connections (no FIN, no RST: a partition)
	// and refuses new ones.
	blackhole
	// severed has closed every connection and refuses new ones.
	severed
)

type proxyConn struct {
	client, server net.Conn
	// dropped is set once a byte was dropped: the stream is broken for good.
	dropped atomic.Bool
}

func (c *proxyConn) close() {
	_ = c.client.Close()
	_ = c.server.Close()
}

// startProxy returns a proxy to upstream, closed when t ends.
func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[*proxyConn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for c := range p.conns {
			c.close()
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode != forwarding {
			_ = client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.upstream, time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c, client, server)
		go p.pipe(c, server, client)
	}
}

// pipe copies src to dst while the proxy forwards; under a blackhole it drops the bytes, and
// does not pass on a close either (a partition delivers no FIN).
func (p *proxy) pipe(c *proxyConn, src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			pass := p.mode == forwarding && !c.dropped.Load()
			p.mu.Unlock()
			if !pass {
				c.dropped.Store(true)
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				c.close()
				return
			}
		}
		if err != nil {
			p.mu.Lock()
			pass := p.mode == forwarding && !c.dropped.Load()
			p.mu.Unlock()
			if pass || !errors.Is(err, io.EOF) {
				c.close()
			}
			return
		}
	}
}

// cut partitions the proxied client from ZooKeeper, silently (blackhole) or by closing its
// connections (severed).
func (p *proxy) cut(mode proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	for c := range p.conns {
		c.dropped.Store(true)
		if mode == severed {
			c.close()
			delete(p.conns, c)
		}
	}
}

// heal forwards again; connections broken by the cut are closed, as the peers' TCP stacks
// would reset them once they can talk again.
func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = forwarding
	for c := range p.conns {
		if c.dropped.Load() {
			c.close()
			delete(p.conns, c)
		}
	}
}

// helper is an elector in a child process (the test binary again), so that a test can SIGKILL
// a leader: no session close, no goodbye, as when a replica's host dies.
type helper struct {
	cmd     *exec.Cmd
	leading chan struct{}
}

// startHelper starts a child elector for identity; its leading channel is closed once the child
// reports leadership.
func startHelper(t *testing.T, path, identity string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"=1",
		"LEADER_TEST_SERVERS="+strings.Join(zkServers, ","),
		"LEADER_TEST_PATH="+path,
		"LEADER_TEST_IDENTITY="+identity)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper: %v", err)
	}
	h := &helper{cmd: cmd, leading: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "leader" {
				close(h.leading)
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return h
}

// runHelper is the child process's main: one elector, "leader" on stdout when it leads, until
// it is killed.
func runHelper() int {
	servers := strings.Split(os.Getenv("LEADER_TEST_SERVERS"), ",")
	e, err := New(servers, os.Getenv("LEADER_TEST_PATH"), os.Getenv("LEADER_TEST_IDENTITY"), sessionTimeout, logr.Discard())
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	errc := make(chan error, 1)
	go func() { errc <- e.Run(context.Background()) }()
	for {
		select {
		case err := <-errc:
			fmt.Fprintln(os.Stderr, "helper: Run returned:", err)
			return 2
		case <-e.Leading():
		}
		if e.IsLeader() {
			fmt.Println("leader")
			<-e.Lost()
			fmt.Fprintln(os.Stderr, "helper: lost leadership")
			return 3
		}
		time.Sleep(time.Millisecond)
	}
}
