package mesos

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-logr/logr"
)

// Client reads the cluster state from the leading master among one or more Mesos masters.
// It is safe for concurrent use.
type Client struct {
	masters []string // base URLs without a trailing slash
	http    *http.Client
	creds   Credentials
	log     logr.Logger
	observe func(endpoint string, status int)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (transport, TLS, proxies). The
// Client never follows redirects through hc: it follows them itself so that credentials reach
// the leader, and it leaves hc unmodified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithCredentials makes the Client authenticate every request, including those sent to the
// leader a standby master redirects to.
func WithCredentials(creds Credentials) Option {
	return func(c *Client) { c.creds = creds }
}

// WithRequestObserver makes the Client report every request it sends to the masters: the
// endpoint path ("/master/state") and the HTTP status (0 when no answer came), for metrics.
func WithRequestObserver(observe func(endpoint string, status int)) Option {
	return func(c *Client) { c.observe = observe }
}

// WithLogger sets the logger for leader discovery (V(2)) and request details (V(4)).
func WithLogger(log logr.Logger) Option {
	return func(c *Client) { c.log = log }
}

// NewClient returns a Client for the masters' base URLs ("http://10.0.4.58:5050",
// "https://master.mesos:5050"), which are tried in order.
func NewClient(masters []string, opts ...Option) (*Client, error) {
	if len(masters) == 0 {
		return nil, errors.New("creating Mesos client: no master URL")
	}
	c := &Client{http: &http.Client{}, log: logr.Discard()}
	for _, m := range masters {
		u, err := url.Parse(strings.TrimSpace(m))
		if err != nil {
			return nil, fmt.Errorf("creating Mesos client: master URL %q: %w", m, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("creating Mesos client: master URL %q: want http(s)://host:port", m)
		}
		c.masters = append(c.masters, strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"))
	}
	for _, o := range opts {
		o(c)
	}
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// Credentials authenticate requests to Mesos masters. The zero value sends no credentials.
// Printing a Credentials never shows the secret.
type Credentials struct {
	kind          string // "basic", "bearer" or "token"
	authorization string // the Authorization header value
}

// ParseCredentials interprets the content of a credentials file: "user:password" is sent as HTTP
// basic authentication, "token=<...>" verbatim as DC/OS expects ("Authorization: token=<...>"),
// and anything else as a bearer token ("Authorization: Bearer <token>"). Surrounding whitespace
// is ignored; empty content and content spanning several lines are errors.
func ParseCredentials(content string) (Credentials, error) {
	s := strings.TrimSpace(content)
	switch {
	case s == "":
		return Credentials{}, errors.New("credentials are empty")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) }):
		return Credentials{}, errors.New("credentials span several lines or hold control characters")
	case strings.HasPrefix(s, "token="):
		return Credentials{kind: "token", authorization: s}, nil
	}
	if user, _, ok := strings.Cut(s, ":"); ok && user != "" {
		return Credentials{kind: "basic", authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(s))}, nil
	}
	return Credentials{kind: "bearer", authorization: "Bearer " + s}, nil
}

// LoadCredentials reads a credentials file (see ParseCredentials).
func LoadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading Mesos credentials: %w", err)
	}
	c, err := ParseCredentials(string(b))
	if err != nil {
		return Credentials{}, fmt.Errorf("reading Mesos credentials %s: %w", path, err)
	}
	return c, nil
}

// Authorization returns the value of the Authorization header these credentials send (empty
// for none). Marathon behind the same authenticator accepts the same header.
func (c Credentials) Authorization() string { return c.authorization }

// String names the kind of credentials ("basic", "bearer", "token" or "none"), never the secret.
func (c Credentials) String() string {
	if c.kind == "" {
		return "none"
	}
	return c.kind
}

// StatusError is a non-2xx answer from a Mesos master.
type StatusError struct {
	// Method is the request method ("POST"); empty means GET.
	Method string
	// URL is the requested URL.
	URL string
	// StatusCode is the HTTP status code (503).
	StatusCode int
	// Status is the HTTP status line ("503 Service Unavailable").
	Status string
	// Body is the start of the response body, for the error message.
	Body string
}

// Error reports the method, URL, status and body excerpt.
func (e *StatusError) Error() string {
	method := e.Method
	if method == "" {
		method = http.MethodGet
	}
	msg := method + " " + e.URL + ": " + e.Status
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// mastersError lists every master's failure on one line.
type mastersError []error

// Error joins the masters' failures with "; ".
func (e mastersError) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns every master's failure, for errors.Is and errors.As.
func (e mastersError) Unwrap() []error { return e }

// Leader returns the base URL of the leading master ("http://10.0.4.58:5050"), asking each master
// in turn for GET /master/redirect and skipping those that do not answer. A master too old to
// have that endpoint is returned as is; State then checks that it leads.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var errs mastersError
	for _, m := range c.masters {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		leader, err := c.redirect(ctx, m)
		if err == nil {
			c.log.V(4).Info("Found the leading Mesos master", "master", m, "leader", leader)
			return leader, nil
		}
		c.log.V(2).Info("Skipped a Mesos master", "master", m, "error", err.Error())
		errs = append(errs, fmt.Errorf("%s: %w", m, err))
	}
	return "", fmt.Errorf("finding the leading Mesos master among %d: %w", len(c.masters), errs)
}

func (c *Client) redirect(ctx context.Context, master string) (string, error) {
	resp, err := c.get(ctx, master+"/master/redirect")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch {
	case isRedirect(resp.StatusCode):
		return leaderFromLocation(master, resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode/100 == 2:
		return master, nil
	}
	return "", statusError(resp)
}

// State reads GET /master/state from the leading master (GET /master/state.json on masters that
// answer 404) and decodes it with DecodeState. A standby that answers with a partial state
// (before 1.0) is followed once to the leader it names; a second standby answer is an error.
// The returned Snapshot records the URL it was read from in LeaderURL.
func (c *Client) State(ctx context.Context) (*Snapshot, error) {
	base, err := c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := c.readState(ctx, &base)
	var standby *NotLeaderError
	if errors.As(err, &standby) {
		next, perr := urlFromPID(base, standby.Leader)
		if perr != nil {
			return nil, fmt.Errorf("reading Mesos state from %s: %w", base, errors.Join(err, perr))
		}
		c.log.V(2).Info("Following a standby Mesos master to its leader", "master", base, "leader", next)
		base = next
		snap, err = c.readState(ctx, &base)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Mesos state from %s: %w", base, err)
	}
	snap.LeaderURL = base
	return snap, nil
}

// readState reads and decodes the state at *base, updating *base when the master redirects to
// another leader (leadership changed since Leader).
func (c *Client) readState(ctx context.Context, base *string) (*Snapshot, error) {
	const maxRedirects = 2
	path := "/master/state"
	for redirects := 0; ; {
		resp, err := c.get(ctx, *base+path)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode/100 == 2:
			// Reading the body (network, TLS, gzip) in another goroutine overlaps it with
			// decoding on a second core.
			body := newReadAhead(resp.Body, 4, 256<<10)
			defer resp.Body.Close()
			defer body.Close()
			return DecodeState(body)
		case resp.StatusCode == http.StatusNotFound && path == "/master/state":
			resp.Body.Close()
			path = "/master/state.json" // older masters only serve the .json name
			continue
		case isRedirect(resp.StatusCode) && redirects < maxRedirects:
			next, err := leaderFromLocation(*base, resp.Header.Get("Location"))
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			c.log.V(2).Info("Mesos master redirected to another leader", "master", *base, "leader", next)
			*base = next
			redirects++
			continue
		}
		err = statusError(resp)
		resp.Body.Close()
		return nil, err
	}
}

func (c *Client) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lambdascale")
	if c.creds.authorization != "" {
		// Set on every request we build: net/http drops Authorization on redirects to other hosts.
		req.Header.Set("Authorization", c.creds.authorization)
	}
	c.log.V(4).Info("Requesting Mesos master", "url", u, "credentials", c.creds.String())
	return c.do(req)
}

// do sends req and reports it to the request observer (endpoint path and HTTP status, 0 for
// a transport error).
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if c.observe != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		c.observe(req.URL.Path, status)
	}
	return resp, err
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// leaderFromLocation resolves a redirect's Location, which Mesos sends without a scheme
// ("//10.0.0.6:5050" or "//10.0.0.6:5050/master/state"), against the master's URL and keeps
// only scheme and host.
func leaderFromLocation(master, location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("redirect from %s without a Location", master)
	}
	base, err := url.Parse(master)
	if err != nil {
		return "", fmt.Errorf("parsing master URL: %w", err)
	}
	loc, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("parsing redirect Location %q: %w", location, err)
	}
	u := base.ResolveReference(loc)
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("redirect Location %q names no http(s) host", location)
	}
	return u.Scheme + "://" + u.Host, nil
}

// urlFromPID turns a master pid ("master@10.0.0.6:5050") into a base URL with base's scheme.
func urlFromPID(base, pid string) (string, error) {
	_, hostport, ok := strings.Cut(pid, "@")
	if !ok || hostport == "" || strings.ContainsAny(hostport, "/?#@ ") {
		return "", fmt.Errorf("leader pid %q has no host:port", pid)
	}
	scheme, _, _ := strings.Cut(base, "://")
	return scheme + "://" + hostport, nil
}

// statusError reads a short excerpt of a failed response's body.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	body := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(body) > 200 {
		n := 200
		for n > 0 && !utf8.RuneStart(body[n]) {
			n--
		}
		body = body[:n] + "…"
	}
	return &StatusError{URL: resp.Request.URL.String(), StatusCode: resp.StatusCode, Status: resp.Status, Body: body}
}

// readAhead reads from r in its own goroutine into a few fixed buffers, ahead of the caller's
// reads. Memory is bounded by the buffers; Close stops the goroutine, which then exits as soon
// as its pending Read on r returns (closing r makes it return).
type readAhead struct {
	filled chan []byte
	free   chan []byte
	done   chan struct{}
	err    error  // the error that ended r, set before filled is closed
	cur    []byte // unread part of buf
	buf    []byte // buffer being read, returned to free once empty
}

func newReadAhead(r io.Reader, buffers, size int) *readAhead {
	ra := &readAhead{
		filled: make(chan []byte, buffers),
		free:   make(chan []byte, buffers+1),
		done:   make(chan struct{}),
	}
	for range buffers + 1 {
		ra.free <- make([]byte, size)
	}
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer close(ra.filled)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := r.Read(buf[:cap(buf)])
		if n > 0 {
			select {
			case ra.filled <- buf[:n]:
			case <-ra.done:
				return
			}
		} else {
			ra.free <- buf
		}
		if err != nil {
			ra.err = err
			return
		}
	}
}

// Read returns buffered bytes, waiting for the reading goroutine when none are left.
func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		buf, ok := <-ra.filled
		if !ok {
			return 0, ra.err
		}
		ra.cur, ra.buf = buf, buf
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops reading ahead. It does not close the underlying reader.
func (ra *readAhead) Close() {
	select {
	case <-ra.done:
	default:
		close(ra.done)
	}
}
