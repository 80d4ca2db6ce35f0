// Package simenv wires the simulated cluster together for tests and the demo: one fake clock,
// the fake AWS endpoint (Auto Scaling and EC2 on loopback), the simulated Mesos masters and
// Marathon over its instances, and the real AWS SDK client pointed at the fake. Nothing here
// reaches beyond the loopback interface.
package simenv

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-logr/logr"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
	"github.com/lambdascale/lambdascale/internal/cloud"
	awscloud "github.com/lambdascale/lambdascale/internal/cloud/aws"
	"github.com/lambdascale/lambdascale/internal/mesos"
	"github.com/lambdascale/lambdascale/internal/sim/fakeaws"
	"github.com/lambdascale/lambdascale/internal/sim/fakemesos"
)

// DefaultShapes are the agents' resources (cores, MiB) of common instance types, used when
// Options.Shapes is nil: the EC2 sizes less 1 GiB of memory kept by the system.
var DefaultShapes = map[string]mesos.Resources{
	"m5.xlarge":  {CPUs: 4, Mem: 15360, Disk: 46000},
	"m5.2xlarge": {CPUs: 8, Mem: 30720, Disk: 94000},
	"m5.4xlarge": {CPUs: 16, Mem: 62464, Disk: 190000},
}

// Group is one Auto Scaling group to create in the fake endpoint.
type Group struct {
	Name                              string
	MinSize, MaxSize, DesiredCapacity int32
	// InstanceType selects the agents' shape (fakemesos.DefaultShape for unknown types).
	InstanceType string
	// InstanceTypes, when set, give the group a weighted mixed instances policy.
	InstanceTypes []fakeaws.InstanceTypeWeight
	// TerminateHookTimeout, when positive, gives the group a terminate lifecycle hook.
	TerminateHookTimeout time.Duration
}

// Env is a running simulated cluster.
type Env struct {
	// Clock drives every fake and the controller.
	Clock *testingclock.FakeClock
	// AWS is the fake Auto Scaling and EC2 endpoint, served at AWSURL.
	AWS    *fakeaws.Server
	AWSURL string
	// Mesos is the simulated cluster, its masters at LeaderURL and StandbyURL and Marathon
	// at MarathonURL.
	Mesos                              *fakemesos.Cluster
	LeaderURL, StandbyURL, MarathonURL string

	log       logr.Logger
	providers []*awscloud.Client
	stops     []func()
}

// Options configure New.
type Options struct {
	// Start is the simulated start time.
	Start time.Time
	// Groups are created, in order, before the Mesos cluster starts.
	Groups []Group
	// Applications is Marathon's workload.
	Applications []fakemesos.Application
	// Shapes are the agents' resources by instance type (cores, MiB); fakemesos.DefaultShape
	// (8 cores, 30720 MiB) for types not listed.
	Shapes map[string]mesos.Resources
	// RegistrationDelay is the time from InService to agent registration (60 s when zero).
	RegistrationDelay time.Duration
	// Log receives the AWS client's logs.
	Log logr.Logger
}

// New starts the fakes on loopback. Close stops them.
func New(o Options) (*Env, error) {
	clk := testingclock.NewFakeClock(o.Start)
	e := &Env{Clock: clk, log: o.Log}
	e.AWS = fakeaws.New(fakeaws.Options{Clock: clk})
	var names []string
	for _, g := range o.Groups {
		if err := e.AWS.CreateGroup(fakeaws.GroupConfig{Name: g.Name, MinSize: g.MinSize, MaxSize: g.MaxSize, DesiredCapacity: g.DesiredCapacity,
			InstanceType: g.InstanceType, InstanceTypes: g.InstanceTypes, TerminateHookTimeout: g.TerminateHookTimeout}); err != nil {
			return nil, fmt.Errorf("creating simulated group %q: %w", g.Name, err)
		}
		names = append(names, g.Name)
	}
	url, stop := e.AWS.Start()
	e.AWSURL = url
	e.stops = append(e.stops, stop)
	shapes := o.Shapes
	if shapes == nil {
		shapes = DefaultShapes
	}
	c, err := fakemesos.New(fakemesos.Options{
		Clock:             clk,
		Machines:          fakemesos.FromFakeAWS(e.AWS, names...),
		Applications:      o.Applications,
		RegistrationDelay: o.RegistrationDelay,
		Shapes:            shapes,
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("starting simulated Mesos cluster: %w", err)
	}
	e.Mesos = c
	e.LeaderURL, e.StandbyURL, stop = c.StartPair()
	e.stops = append(e.stops, stop)
	e.MarathonURL = c.MarathonURL()
	return e, nil
}

// Provider returns the real AWS SDK client pointed at the fake endpoint, with static
// credentials (the fake checks none), for the controller's Options.Provider.
func (e *Env) Provider(ctx context.Context, region string) (cloud.Provider, error) {
	if region == "" {
		region = "us-east-1"
	}
	c, err := awscloud.New(ctx, awscloud.Options{
		Region:          region,
		EndpointURL:     e.AWSURL,
		Credentials:     credentials.NewStaticCredentialsProvider("AKIDSIMULATED", "simulated-secret", ""),
		Logger:          e.log,
		Clock:           e.Clock,
		RetryMaxBackoff: time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	e.providers = append(e.providers, c)
	return c, nil
}

// Rewire points a policy at the simulated cluster: masters (standby first, so leader discovery
// is exercised), Marathon, and no credentials file. It changes only the in-memory copy.
func (e *Env) Rewire(p *v1alpha1.ScalingPolicy) {
	p.Spec.Mesos.Masters = []string{e.StandbyURL, e.LeaderURL}
	p.Spec.Mesos.MarathonURL = e.MarathonURL
	p.Spec.Mesos.CredentialsFile = ""
}

// Advance steps the clock by d, in steps of at most step.
func (e *Env) Advance(d, step time.Duration) {
	for d > 0 {
		s := min(d, step)
		e.Clock.Step(s)
		d -= s
	}
}

// Close stops the servers.
func (e *Env) Close() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	e.stops = nil
}

// SetAWSEnv points the standard AWS credential chain of the current process at static test
// credentials (region us-east-1), with no shared config files and no instance metadata, for
// tests that build the AWS client the way a user's run does. t.Setenv restores everything.
func SetAWSEnv(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
}
