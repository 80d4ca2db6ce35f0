package mesos

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMaster is an httptest server standing for one Mesos master. It records the requests it
// got (path and Authorization header).
type fakeMaster struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "GET /master/state auth=<Authorization>"
}

func newFakeMaster(t *testing.T, h http.HandlerFunc) *fakeMaster {
	t.Helper()
	m := &fakeMaster{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests = append(m.requests, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		m.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *fakeMaster) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

// hostPort is the server's "127.0.0.1:port".
func (m *fakeMaster) hostPort() string { return strings.TrimPrefix(m.URL, "http://") }

// leaderState is the state a leader serves: the captured 1.2.0 state when shared fixtures are
// present (2 agents, 3 tasks), else this package's 1.9 state (4 agents, 6 tasks).
func leaderState(t *testing.T) (doc []byte, agents, tasks int) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(*realCaptures, "mesos-1.2.0-dcosui-kafka-marathon-metronome.json")); err == nil {
		return b, 2, 3
	}
	b, err := os.ReadFile(filepath.Join("testdata", "mesos-1.9.0-drain-multirole-unreachable.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b, 4, 6
}

// leader serves /master/redirect (to itself, as a Mesos leader does) and /master/state.
func leader(t *testing.T, doc []byte) *fakeMaster {
	t.Helper()
	var m *fakeMaster
	m = newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/master/redirect":
			w.Header().Set("Location", "//"+m.hostPort())
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/master/state":
			w.Header().Set("Content-Type", "application/json")
			w.Write(doc)
		default:
			http.NotFound(w, r)
		}
	})
	return m
}

// standby answers /master/redirect with a scheme-less Location to the leader, and redirects
// everything else there too, as Mesos 1.x standbys do.
func standby(t *testing.T, to *fakeMaster) *fakeMaster {
	t.Helper()
	return newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+to.hostPort()+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
}

// downURL returns the URL of a server that no longer listens.
func downURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func newTestClient(t *testing.T, masters []string, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(masters, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientStateFromLeaderThroughStandby(t *testing.T) {
	doc, agents, tasks := leaderState(t)
	basic, err := ParseCredentials("alice:s3cr:et\n")
	if err != nil {
		t.Fatal(err)
	}
	wantBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cr:et"))
	tests := []struct {
		name     string
		creds    Credentials
		wantAuth string
	}{
		{"basic", basic, wantBasic},
		{"bearer", mustCredentials(t, "eyJhbGciOiJSUzI1NiJ9.payload.sig"), "Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig"},
		{"DC/OS token", mustCredentials(t, "  token=eyJhbGciOiJIUzI1NiJ9.dcos.sig  "), "token=eyJhbGciOiJIUzI1NiJ9.dcos.sig"},
		{"none", Credentials{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lead := leader(t, doc)
			stby := standby(t, lead)
			c := newTestClient(t, []string{stby.URL, lead.URL}, WithCredentials(tc.creds))
			s, err := c.State(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Agents) != agents || len(s.Tasks) != tasks || s.LeaderURL != lead.URL {
				t.Errorf("%d agents, %d tasks from %q; want %d, %d from %s", len(s.Agents), len(s.Tasks), s.LeaderURL, agents, tasks, lead.URL)
			}
			// The standby was asked once; the state came from the leader, with credentials.
			want := "GET /master/redirect auth=" + tc.wantAuth
			if got := stby.got(); len(got) != 1 || got[0] != want {
				t.Errorf("standby got %q, want [%q]", got, want)
			}
			if got := lead.got(); len(got) != 1 || got[0] != "GET /master/state auth="+tc.wantAuth {
				t.Errorf("leader got %q, want one GET /master/state with auth %q", got, tc.wantAuth)
			}
		})
	}
}

func mustCredentials(t *testing.T, content string) Credentials {
	t.Helper()
	c, err := ParseCredentials(content)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientLeaderLocationForms(t *testing.T) {
	tests := []struct {
		location string
		want     string
	}{
		{"//10.0.0.6:5050", "http://10.0.0.6:5050"},
		{"//10.0.0.6:5050/master/redirect", "http://10.0.0.6:5050"},
		{"//[2001:db8::6]:5050/master/state", "http://[2001:db8::6]:5050"},
		{"https://leader.mesos:5050/", "https://leader.mesos:5050"},
	}
	for _, tc := range tests {
		m := newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", tc.location)
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		got, err := newTestClient(t, []string{m.URL}).Leader(context.Background())
		if err != nil || got != tc.want {
			t.Errorf("Location %q: leader %q, %v; want %q", tc.location, got, err, tc.want)
		}
	}
}

func TestClientSkipsMastersThatDoNotAnswer(t *testing.T) {
	doc, agents, _ := leaderState(t)
	lead := leader(t, doc)
	noLeader := newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	})
	down := downURL(t)
	s, err := newTestClient(t, []string{down, noLeader.URL, lead.URL}).State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Agents) != agents || s.LeaderURL != lead.URL {
		t.Errorf("%d agents from %s, want %d from %s", len(s.Agents), s.LeaderURL, agents, lead.URL)
	}
}

func TestClientAllMastersDown(t *testing.T) {
	noLeader := newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	})
	down1, down2 := downURL(t), downURL(t)
	_, err := newTestClient(t, []string{down1, noLeader.URL, down2}).State(context.Background())
	if err == nil {
		t.Fatal("State succeeded with every master down")
	}
	msg := err.Error()
	for _, want := range []string{
		"finding the leading Mesos master among 3",
		down1 + ": ", noLeader.URL + ": GET " + noLeader.URL + "/master/redirect: 503 Service Unavailable: No leader elected",
		down2 + ": ", "connection refused",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("error %v does not hold the 503 StatusError", err)
	}
}

func TestClientFallsBackToStateJSON(t *testing.T) {
	doc, agents, _ := leaderState(t)
	var m *fakeMaster
	m = newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/master/redirect":
			w.Header().Set("Location", "//"+m.hostPort())
			w.WriteHeader(http.StatusTemporaryRedirect)
		case "/master/state.json":
			w.Write(doc)
		default:
			http.NotFound(w, r)
		}
	})
	s, err := newTestClient(t, []string{m.URL}, WithCredentials(mustCredentials(t, "tok"))).State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Agents) != agents {
		t.Errorf("%d agents, want %d", len(s.Agents), agents)
	}
	want := []string{"GET /master/redirect auth=Bearer tok", "GET /master/state auth=Bearer tok", "GET /master/state.json auth=Bearer tok"}
	if got := m.got(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", got, want)
	}
}

// Before 1.0 a standby answers /master/state with 200 and a state naming another leader; old
// masters have no /master/redirect either (404).
func TestClientFollowsPre10StandbyOnce(t *testing.T) {
	doc, agents, _ := leaderState(t)
	standbyDoc, err := os.ReadFile(filepath.Join("testdata", "mesos-0.28.2-standby.json"))
	if err != nil {
		t.Fatal(err)
	}
	oldMaster := func(state func() []byte) *fakeMaster {
		return newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/master/state" {
				http.NotFound(w, r)
				return
			}
			w.Write(state())
		})
	}
	naming := func(to *fakeMaster) func() []byte {
		return func() []byte {
			return []byte(strings.Replace(string(standbyDoc), "master@10.0.0.6:5050", "master@"+to.hostPort(), 1))
		}
	}

	lead := oldMaster(func() []byte { return doc })
	stby := oldMaster(naming(lead))
	s, err := newTestClient(t, []string{stby.URL}, WithCredentials(mustCredentials(t, "bob:pw"))).State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Agents) != agents || s.LeaderURL != lead.URL {
		t.Errorf("%d agents from %s, want %d from the leader %s", len(s.Agents), s.LeaderURL, agents, lead.URL)
	}
	if got := lead.got(); len(got) != 1 || !strings.HasSuffix(got[0], "auth=Basic Ym9iOnB3") {
		t.Errorf("leader got %q, want one request with bob's credentials", got)
	}

	// A standby naming another standby: followed once, then refused.
	third := oldMaster(naming(lead))
	second := oldMaster(naming(third))
	_, err = newTestClient(t, []string{second.URL}).State(context.Background())
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !strings.Contains(err.Error(), "is not the leader") {
		t.Fatalf("error %v, want a *NotLeaderError after following one standby", err)
	}
	if len(third.got()) != 1 || len(lead.got()) != 1 {
		t.Errorf("followed past the first standby: third got %q, leader %q", third.got(), lead.got())
	}
}

func TestClientErrors(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		var m *fakeMaster
		m = newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/master/redirect" {
				w.Header().Set("Location", "//"+m.hostPort())
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
			http.Error(w, "Failed to collect state:\n  registry read timed out\n"+strings.Repeat("x", 1000), http.StatusInternalServerError)
		})
		_, err := newTestClient(t, []string{m.URL}).State(context.Background())
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 {
			t.Fatalf("error %v, want a 500 StatusError", err)
		}
		want := "reading Mesos state from " + m.URL + ": GET " + m.URL + "/master/state: 500 Internal Server Error: Failed to collect state: registry read timed out xxx"
		if !strings.HasPrefix(err.Error(), want) || len(se.Body) > 210 {
			t.Errorf("error %q, want it to start with %q and cut the body", err, want)
		}
	})

	t.Run("deadline before headers", func(t *testing.T) {
		m := newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newTestClient(t, []string{m.URL, downURL(t)}).State(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %v", d)
		}
	})

	t.Run("deadline while streaming the state", func(t *testing.T) {
		doc, _, _ := leaderState(t)
		var m *fakeMaster
		m = newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/master/redirect" {
				w.Header().Set("Location", "//"+m.hostPort())
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
			w.Write(doc[:len(doc)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := newTestClient(t, []string{m.URL}).State(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "decoding /master/state") {
			t.Fatalf("error %v, want a decoding error wrapping context.DeadlineExceeded", err)
		}
	})

	t.Run("redirect without Location", func(t *testing.T) {
		m := newFakeMaster(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTemporaryRedirect) })
		_, err := newTestClient(t, []string{m.URL}).Leader(context.Background())
		if err == nil || !strings.Contains(err.Error(), "without a Location") {
			t.Errorf("error %v, want a missing-Location error", err)
		}
	})
}

func TestNewClientRejectsBadURLs(t *testing.T) {
	for _, masters := range [][]string{nil, {"10.0.0.1:5050"}, {"ftp://10.0.0.1:5050"}, {"http://"}, {"http://a:5050", "::"}} {
		if _, err := NewClient(masters); err == nil {
			t.Errorf("NewClient(%q) accepted", masters)
		}
	}
	c := newTestClient(t, []string{" http://a:5050/ ", "https://b:5050/mesos"})
	if strings.Join(c.masters, ",") != "http://a:5050,https://b:5050/mesos" {
		t.Errorf("masters = %q", c.masters)
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content  string
		kind     string
		header   string
		errorHas string
	}{
		{content: "alice:secret\n", kind: "basic", header: "Basic YWxpY2U6c2VjcmV0"},
		{content: "  eyJ0eXAi.x.y \n", kind: "bearer", header: "Bearer eyJ0eXAi.x.y"},
		{content: "token=abc.def\n", kind: "token", header: "token=abc.def"},
		{content: ":nouser", kind: "bearer", header: "Bearer :nouser"},
		{content: " \n\t", errorHas: "credentials are empty"},
		{content: "alice:secret\nbob:other\n", errorHas: "several lines"},
	}
	for i, tc := range tests {
		path := filepath.Join(dir, "cred"+string(rune('a'+i)))
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadCredentials(path)
		if tc.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errorHas) || !strings.Contains(err.Error(), path) {
				t.Errorf("%q: error %v, want one naming %s and saying %q", tc.content, err, path, tc.errorHas)
			}
			continue
		}
		if err != nil || c.String() != tc.kind || c.authorization != tc.header {
			t.Errorf("%q: %v (%s, %q), want %s, %q", tc.content, err, c, c.authorization, tc.kind, tc.header)
		}
		if strings.Contains(c.String(), "secret") {
			t.Errorf("String() shows the secret: %s", c)
		}
	}
	if _, err := LoadCredentials(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: error %v", err)
	}
}

// chunkyReader returns data in pieces of varying sizes, then err.
type chunkyReader struct {
	data []byte
	n    int
	err  error
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	c.n = c.n%7 + 1
	size := min(len(p), len(c.data), c.n*13)
	if c.n == 3 {
		return 0, nil // a reader may return nothing without error
	}
	copy(p, c.data[:size])
	c.data = c.data[size:]
	return size, nil
}

func TestReadAhead(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, wantErr := range []error{io.EOF, context.DeadlineExceeded} {
		ra := newReadAhead(&chunkyReader{data: data, err: wantErr}, 2, 64)
		got, err := io.ReadAll(ra)
		if wantErr == io.EOF && err != nil || wantErr != io.EOF && !errors.Is(err, wantErr) {
			t.Errorf("ReadAll error %v, want %v", err, wantErr)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("read %d bytes, differing from the %d written", len(got), len(data))
		}
		ra.Close()
		ra.Close()
	}
	// Closing early stops the goroutine even though nobody reads.
	pr, pw := io.Pipe()
	ra := newReadAhead(pr, 2, 64)
	go pw.Write(data)
	ra.Close()
	pr.Close()
}
