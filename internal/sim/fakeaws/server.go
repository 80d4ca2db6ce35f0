// Package fakeaws is a wire-compatible fake of the AWS endpoints Lambda Scale calls: the Auto
// Scaling awsQuery API (form-encoded POST, Version=2011-01-01, XML answers and <ErrorResponse>
// errors) and the EC2 ec2query DescribeInstances and DescribeInstanceTypes actions
// (Version=2016-11-15). Tests drive the real SDK clients against it over loopback; no
// interface mock stands in for the SDK.
//
// It keeps state (groups, instances, scaling activities) on an injected clock and evaluates
// instance lifecycles lazily on every request and every inspection, so a FakeClock compresses
// minutes into an instant. It validates what AWS validates (bounds, with AWS's error texts),
// injects faults (throttling, contention, HTML pages, slow answers) and records every call, so
// tests assert outcomes: which instance is gone, what the desired capacity is now.
//
// It models the instance lifecycle as AWS reports it: Pending (or Pending:Wait and
// Pending:Proceed under a launch lifecycle hook), InService, Standby (EnterStandby,
// ExitStandby), Detaching (DetachInstances), Terminating (or Terminating:Wait and
// Terminating:Proceed under a terminate hook), and gone; suspended processes (Launch,
// Terminate, AZRebalance, ReplaceUnhealthy), failed and cancelled launches, health
// replacements and AZ rebalancing that AWS does on its own (TerminateOnItsOwn, SetHealth),
// and EC2 DescribeInstanceTypes for common instance types.
//
// It does not check request signatures, and it models only the actions and fields Lambda
// Scale uses: no cooldowns (HonorCooldown is ignored), no warm pool (AWS lists warm-pool
// instances with DescribeWarmPool, never among a group's Instances; SetLifecycleState can
// force a "Warmed:*" state to test that a client ignores one), no health check grace period,
// no launch templates beyond their names.
package fakeaws

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// API versions that tell the two services apart on one URL.
const (
	// AutoScalingVersion is the Version form value of Auto Scaling requests.
	AutoScalingVersion = "2011-01-01"
	// EC2Version is the Version form value of EC2 requests.
	EC2Version = "2016-11-15"
)

// Service names used in Call.Service.
const (
	ServiceAutoScaling = "autoscaling"
	ServiceEC2         = "ec2"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Clock is the clock of instance lifecycles, activities and faults; the real clock when
	// nil. Pass a k8s.io/utils/clock/testing FakeClock to control time.
	Clock clock.PassiveClock
	// Region names availability zones ("us-east-1a") and DNS names; "us-east-1" when empty.
	Region string
	// AccountID appears in ARNs and EC2 owner ids; "123456789012" when empty.
	AccountID string
	// PendingDuration is how long a launched instance stays Pending (or Pending:Proceed,
	// after a launch lifecycle hook) before it is InService, and how long an instance out of
	// Standby stays Pending; 30 s when zero.
	PendingDuration time.Duration
	// TerminatingDuration is how long a terminating instance stays Terminating (or
	// Terminating:Proceed, after a terminate lifecycle hook) before it leaves the group;
	// 20 s when zero.
	TerminatingDuration time.Duration
	// LaunchRetryInterval is how long the group waits after a failed launch before it tries
	// again; 10 s when zero.
	LaunchRetryInterval time.Duration
	// DetachingDuration is how long a detached instance stays Detaching before it leaves the
	// group (still running in EC2); 10 s when zero.
	DetachingDuration time.Duration
	// MaxPageSize caps the number of groups in one DescribeAutoScalingGroups page below
	// MaxRecords (AWS may answer fewer items than asked for); 0 means no cap.
	MaxPageSize int
}

// Server is the fake AWS endpoint, an http.Handler. It is safe for concurrent use.
type Server struct {
	clock       clock.PassiveClock
	region      string
	account     string
	pending     time.Duration
	terminating time.Duration
	launchRetry time.Duration
	detaching   time.Duration
	maxPage     int

	mu         sync.Mutex
	groups     map[string]*group
	instances  map[string]*instance // every instance ever launched, for EC2
	activities []*activity
	faults     []*Fault
	calls      []Call
	seq        uint64 // ids
	ipSeq      int    // private addresses
}

// New returns a Server with no groups.
func New(o Options) *Server {
	s := &Server{
		clock:       o.Clock,
		region:      o.Region,
		account:     o.AccountID,
		pending:     o.PendingDuration,
		terminating: o.TerminatingDuration,
		launchRetry: o.LaunchRetryInterval,
		detaching:   o.DetachingDuration,
		maxPage:     o.MaxPageSize,
		groups:      map[string]*group{},
		instances:   map[string]*instance{},
		ipSeq:       9,
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	if s.pending <= 0 {
		s.pending = 30 * time.Second
	}
	if s.terminating <= 0 {
		s.terminating = 20 * time.Second
	}
	if s.launchRetry <= 0 {
		s.launchRetry = 10 * time.Second
	}
	if s.detaching <= 0 {
		s.detaching = 10 * time.Second
	}
	return s
}

// Start serves s on a loopback port and returns its base URL ("http://127.0.0.1:port") and
// a function that stops the listener and waits for requests in flight.
func (s *Server) Start() (baseURL string, stop func()) {
	ts := httptest.NewServer(s)
	return ts.URL, ts.Close
}

// Fault is an injected failure or delay of matching requests.
type Fault struct {
	// Action is the API action the fault applies to ("SetDesiredCapacity",
	// "DescribeInstances"); empty for every action of both services.
	Action string
	// Code is the AWS error code to answer ("Throttling", "ResourceContention",
	// "ScalingActivityInProgress", "RequestLimitExceeded"); empty with HTML false means no
	// error, only Delay.
	Code string
	// Message is the error message; a default for the code when empty.
	Message string
	// HTTPStatus is the answer's HTTP status; AWS's status for the code when zero (400 for
	// Throttling and ScalingActivityInProgress, 500 for ResourceContention, 503 for
	// RequestLimitExceeded and for HTML).
	HTTPStatus int
	// HTML answers an HTML error page (as a load balancer or proxy would) instead of an AWS
	// error document.
	HTML bool
	// Times limits the fault to the next Times matching requests; 0 means no count limit.
	Times int
	// Until limits the fault to requests served while the server clock is before Until; the
	// zero time means no time limit. A fault with neither limit lasts until ClearFaults.
	Until time.Time
	// Delay is a wall-clock delay before the answer (a slow AWS); the request's
	// cancellation ends it early.
	Delay time.Duration
}

// InjectFault adds f; faults are matched in the order they were added, the first active one
// wins.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the active fault for action at now, counting it used. Called with s.mu.
func (s *Server) takeFault(action string, now time.Time) *Fault {
	kept := s.faults[:0]
	var hit *Fault
	for _, f := range s.faults {
		if !f.Until.IsZero() && !now.Before(f.Until) {
			continue // expired
		}
		if hit == nil && (f.Action == "" || f.Action == action) {
			c := *f
			hit = &c
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					continue // used up
				}
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return hit
}

// Call is one request the server answered.
type Call struct {
	// Service is ServiceAutoScaling or ServiceEC2.
	Service string
	// Action is the API action ("DescribeAutoScalingGroups").
	Action string
	// Params are the request's form values other than Action and Version, first value
	// of each ("AutoScalingGroupNames.member.1": "agents").
	Params map[string]string
	// Time is the server clock's time of the request.
	Time time.Time
	// Code is the error code answered; empty for a success.
	Code string
	// HTTPStatus is the HTTP status answered.
	HTTPStatus int
}

// Calls returns a copy of the calls answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns how many requests for action were answered (successes and errors).
func (s *Server) CallCount(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

// SuccessCount returns how many requests for action succeeded.
func (s *Server) SuccessCount(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Action == action && c.Code == "" {
			n++
		}
	}
	return n
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// apiError is an error answer of either service.
type apiError struct {
	code    string
	message string
	status  int
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// validation returns a ValidationError (HTTP 400) with a formatted message.
func validation(format string, args ...any) *apiError {
	return &apiError{code: "ValidationError", message: fmt.Sprintf(format, args...), status: http.StatusBadRequest}
}

// defaultStatus is AWS's HTTP status for an error code.
func defaultStatus(code string) int {
	switch code {
	case "ResourceContention", "InternalFailure", "IdempotentCallInProgress", "ServiceLinkedRoleFailure":
		return http.StatusInternalServerError
	case "RequestLimitExceeded", "ServiceUnavailable", "Unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// defaultMessage is a message for an injected error code.
func defaultMessage(code string) string {
	switch code {
	case "Throttling":
		return "Rate exceeded"
	case "RequestLimitExceeded":
		return "Request limit exceeded."
	case "ResourceContention":
		// AWS's description of the error in the API reference.
		return "You already have a pending update to an Auto Scaling resource (for example, a group, instance, or load balancer)."
	case "ScalingActivityInProgress":
		return "The operation can't be performed because there are scaling activities in progress."
	case "ServiceUnavailable":
		return "Service is unavailable."
	case "InternalFailure":
		return "The request processing has failed because of an unknown error, exception or failure."
	}
	return code
}

// ServeHTTP answers one Auto Scaling or EC2 request, told apart by the Version form value.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeASGError(w, s.requestID(), &apiError{code: "MalformedQueryString", message: err.Error(), status: http.StatusBadRequest})
		return
	}
	action, version := r.Form.Get("Action"), r.Form.Get("Version")
	service := ServiceAutoScaling
	if version == EC2Version {
		service = ServiceEC2
	}
	params := make(map[string]string, len(r.Form))
	for k, v := range r.Form {
		if k != "Action" && k != "Version" && len(v) > 0 {
			params[k] = v[0]
		}
	}

	s.mu.Lock()
	now := s.clock.Now()
	fault := s.takeFault(action, now)
	reqID := s.requestIDLocked()
	s.mu.Unlock()

	if fault != nil && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.record(Call{Service: service, Action: action, Params: params, Time: now, Code: "RequestCanceled"})
			return
		}
	}

	var (
		body []byte
		aerr *apiError
	)
	switch {
	case fault != nil && fault.HTML:
		status := fault.HTTPStatus
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		s.record(Call{Service: service, Action: action, Params: params, Time: now, Code: "HTML", HTTPStatus: status})
		writeHTML(w, status)
		return
	case fault != nil && fault.Code != "":
		aerr = &apiError{code: fault.Code, message: fault.Message, status: fault.HTTPStatus}
		if aerr.message == "" {
			aerr.message = defaultMessage(fault.Code)
		}
		if aerr.status == 0 {
			aerr.status = defaultStatus(fault.Code)
		}
	default:
		s.mu.Lock()
		now = s.clock.Now() // the delay may have let the fake clock move
		s.advance(now)
		switch {
		case version == AutoScalingVersion:
			body, aerr = s.autoScaling(action, r.Form, now, reqID)
		case version == EC2Version:
			body, aerr = s.ec2(action, r.Form, now, reqID)
		case version == "":
			aerr = &apiError{code: "MissingParameter", message: "The request must contain the parameter Version", status: http.StatusBadRequest}
		default:
			aerr = &apiError{code: "NoSuchVersion", message: fmt.Sprintf("The requested version (%s) of service is not served by this fake (Auto Scaling %s, EC2 %s)", version, AutoScalingVersion, EC2Version), status: http.StatusBadRequest}
		}
		s.mu.Unlock()
	}

	if aerr != nil {
		s.record(Call{Service: service, Action: action, Params: params, Time: now, Code: aerr.code, HTTPStatus: aerr.status})
		if service == ServiceEC2 {
			writeEC2Error(w, reqID, aerr)
		} else {
			writeASGError(w, reqID, aerr)
		}
		return
	}
	s.record(Call{Service: service, Action: action, Params: params, Time: now, HTTPStatus: http.StatusOK})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// record appends c to the call log.
func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// requestID returns a new request id.
func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestIDLocked()
}

// requestIDLocked returns a new request id. Called with s.mu.
func (s *Server) requestIDLocked() string {
	s.seq++
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", s.seq, s.seq&0xffff, s.seq&0xfff, s.seq&0xfff, s.seq)
}

// writeASGError writes an awsQuery <ErrorResponse>.
func writeASGError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var b strings.Builder
	b.WriteString(`<ErrorResponse xmlns="` + autoScalingNS + `">`)
	b.WriteString("<Error><Type>" + typ + "</Type><Code>" + xmlEscape(e.code) + "</Code><Message>" + xmlEscape(e.message) + "</Message></Error>")
	b.WriteString("<RequestId>" + reqID + "</RequestId></ErrorResponse>\n")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(b.String()))
}

// writeEC2Error writes an ec2query <Response><Errors>.
func writeEC2Error(w http.ResponseWriter, reqID string, e *apiError) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString("<Response><Errors><Error><Code>" + xmlEscape(e.code) + "</Code><Message>" + xmlEscape(e.message) + "</Message></Error></Errors>")
	b.WriteString("<RequestID>" + reqID + "</RequestID></Response>\n")
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(b.String()))
}

// writeHTML writes an HTML error page such as a load balancer sends; it is not well-formed
// XML, as real ones often are not.
func writeHTML(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>\n"+
		"<body><h1>%s</h1><p>The server is temporarily unable to service your request.<br>Please try again later.</p></body></html>\n",
		status, http.StatusText(status), http.StatusText(status))
}

// listParam returns the values of a query list ("AutoScalingGroupNames.member.1", ...) in
// index order; prefix is "AutoScalingGroupNames.member".
func listParam(form url.Values, prefix string) []string {
	type item struct {
		i int
		v string
	}
	var items []item
	for k, v := range form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok || len(v) == 0 {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(rest, "%d", &i); err != nil || fmt.Sprint(i) != rest {
			continue
		}
		items = append(items, item{i, v[0]})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// Serve serves s on an ephemeral loopback port until ctx is done and returns the base URL
// ("http://127.0.0.1:port"), for the demo, which outlives no test.
func (s *Server) Serve(ctx context.Context) (baseURL string, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening on loopback: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + l.Addr().String(), nil
}
