// Package aws implements cloud.Provider with aws-sdk-go-v2: Auto Scaling
// DescribeAutoScalingGroups, DescribeScalingActivities, SetDesiredCapacity and
// TerminateInstanceInAutoScalingGroup, EC2 DescribeInstances for the addresses of group
// members, and EC2 DescribeInstanceTypes for the size of instance types.
//
// It enforces the write rules of DESIGN §4 at the boundary: it grows a group only by an
// absolute desired capacity inside the last described [MinSize, MaxSize], shrinks it only by
// terminating a named InService member with ShouldDecrementDesiredCapacity=true, and never
// lowers the desired capacity (AWS would pick the victim). It makes no scaling decision.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/lambdascale/lambdascale/internal/cloud"
)

// Defaults of Options.
const (
	// DefaultRetryMaxAttempts is the number of attempts the SDK makes per request
	// (throttling and 5xx answers are retried) when neither Options nor the AWS
	// configuration (AWS_MAX_ATTEMPTS) sets it.
	DefaultRetryMaxAttempts = 3
	// DefaultDescribeMaxAge is how long a group description authorizes writes.
	DefaultDescribeMaxAge = 2 * time.Minute
)

// AWS API limits the client works within.
const (
	// maxNamesPerDescribe is the most group names one DescribeAutoScalingGroups request
	// takes (with MaxRecords=100, its maximum).
	maxNamesPerDescribe = 100
	// maxFilterValues is the most values of one EC2 filter.
	maxFilterValues = 200
	// maxRecords is the page size of Auto Scaling describes.
	maxRecords = 100
)

// Options configures New. The zero value uses the standard AWS configuration.
type Options struct {
	// Region is the AWS region ("us-east-1"); when empty, the standard chain (AWS_REGION,
	// the shared config profile, then the EC2 instance metadata service) decides.
	Region string
	// EndpointURL overrides the endpoint of both Auto Scaling and EC2 ("http://127.0.0.1:8080"
	// for the simulated cluster); when empty, the SDK's own AWS_ENDPOINT_URL (and
	// AWS_ENDPOINT_URL_AUTO_SCALING, AWS_ENDPOINT_URL_EC2) support applies.
	EndpointURL string
	// HTTPClient sends the requests; the SDK's default client when nil.
	HTTPClient *http.Client
	// Credentials overrides the standard credential chain (environment, web identity,
	// shared profile, container role, instance metadata); nil uses the chain.
	Credentials sdkaws.CredentialsProvider
	// Logger receives the client's logs; discarded when zero.
	Logger logr.Logger
	// Clock dates descriptions to tell them stale (see DescribeMaxAge); the real clock when
	// nil.
	Clock clock.PassiveClock
	// RetryMaxAttempts is the number of attempts the SDK makes per request for throttling
	// and 5xx answers; AWS_MAX_ATTEMPTS or DefaultRetryMaxAttempts when zero.
	RetryMaxAttempts int
	// RetryMaxBackoff caps the SDK's wait between attempts (20 s by default); tests and the
	// demo set it low.
	RetryMaxBackoff time.Duration
	// DescribeMaxAge is how long after a DescribeGroups its view of a group authorizes a
	// write (on the Clock); DefaultDescribeMaxAge when zero.
	DescribeMaxAge time.Duration
	// OnCall, when set, is called after every request attempt with the API action
	// ("SetDesiredCapacity") and the AWS error code ("" on success), for metrics.
	OnCall func(operation, code string)
}

// Client is a cloud.Provider backed by the Auto Scaling and EC2 APIs. It remembers the last
// description of each group (to check writes against it) and the EC2 facts of the instances
// it has seen (to call DescribeInstances only for new ones). It is safe for concurrent use.
type Client struct {
	asg          *autoscaling.Client
	ec2          *ec2.Client
	writeRetryer sdkaws.Retryer
	log          logr.Logger
	clock        clock.PassiveClock
	maxAge       time.Duration
	onCall       func(operation, code string)

	mu     sync.Mutex
	groups map[string]*observation            // last description, by group name
	known  map[string]knownInstance           // EC2 facts, by instance id
	shapes map[string]cloud.InstanceTypeShape // EC2 instance type sizes, by type, forever
	calls  map[string]int                     // requests sent, by operation
}

var _ cloud.Provider = (*Client)(nil)

// observation is what the last DescribeGroups saw of a group, to check writes against.
type observation struct {
	min, max, desired int32 // in capacity units for weighted groups
	members           map[string]cloud.Instance
	suspended         []string
	at                time.Time
}

// knownInstance is what EC2 DescribeInstances said of an instance, and the group it was
// seen in.
type knownInstance struct {
	ec2   cloud.EC2Instance
	group string
}

// New returns a Client configured by the standard AWS configuration chain
// (config.LoadDefaultConfig) and o. It makes no API call, except to the EC2 instance
// metadata service when no region is configured anywhere else.
func New(ctx context.Context, o Options) (*Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	} else {
		loadOpts = append(loadOpts, config.WithEC2IMDSRegion())
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(o.HTTPClient))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	// The SDK's own messages (warnings about retries, bodies, clock skew) go through our
	// logger, not to stderr as plain text.
	sdkLog := o.Logger.WithName("aws-sdk")
	loadOpts = append(loadOpts, config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		msg := fmt.Sprintf(format, v...)
		if c == logging.Warn {
			sdkLog.V(1).Info(msg)
			return
		}
		sdkLog.V(4).Info(msg)
	})))
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("loading the AWS configuration: no region: set it in the policy, AWS_REGION or the shared config profile")
	}

	attempts := o.RetryMaxAttempts
	if attempts <= 0 {
		attempts = cfg.RetryMaxAttempts
	}
	if attempts <= 0 {
		attempts = DefaultRetryMaxAttempts
	}
	c := &Client{
		log:    o.Logger,
		clock:  o.Clock,
		maxAge: o.DescribeMaxAge,
		onCall: o.OnCall,
		groups: map[string]*observation{},
		known:  map[string]knownInstance{},
		shapes: map[string]cloud.InstanceTypeShape{},
		calls:  map[string]int{},
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultDescribeMaxAge
	}
	readRetryer := newRetryer(attempts, o.RetryMaxBackoff, false)
	c.writeRetryer = newRetryer(attempts, o.RetryMaxBackoff, true)
	countCalls := func(stack *middleware.Stack) error {
		return stack.Finalize.Add(callCounter{c}, middleware.After)
	}

	c.asg = autoscaling.NewFromConfig(cfg, func(ao *autoscaling.Options) {
		ao.Retryer = readRetryer
		ao.RetryMaxAttempts = 0 // attempts are the retryer's
		ao.APIOptions = append(ao.APIOptions, countCalls)
		if o.EndpointURL != "" {
			ao.BaseEndpoint = sdkaws.String(o.EndpointURL)
		}
	})
	c.ec2 = ec2.NewFromConfig(cfg, func(eo *ec2.Options) {
		eo.Retryer = readRetryer
		eo.RetryMaxAttempts = 0
		eo.APIOptions = append(eo.APIOptions, countCalls)
		if o.EndpointURL != "" {
			eo.BaseEndpoint = sdkaws.String(o.EndpointURL)
		}
	})
	return c, nil
}

// newRetryer returns the SDK's standard retryer with a bounded number of attempts. It
// retries throttling, 5xx answers and connection errors. For writes it does not retry
// ScalingActivityInProgress, ResourceContention or IdempotentCallInProgress: the group is
// busy, and repeating the write blindly could act on a view that the busy work changes;
// those errors reach the controller, which requeues with backoff and describes the group
// again before deciding anew.
func newRetryer(attempts int, maxBackoff time.Duration, write bool) sdkaws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = attempts
		if maxBackoff > 0 {
			so.MaxBackoff = maxBackoff
		}
		if write {
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noBusyRetry)}, so.Retryables...)
		}
	})
}

// noBusyRetry vetoes the SDK's retry of errors saying the group is busy.
func noBusyRetry(err error) sdkaws.Ternary {
	switch cloud.ErrorCode(err) {
	case cloud.CodeScalingActivityInProgress, cloud.CodeResourceContention, "IdempotentCallInProgress":
		return sdkaws.FalseTernary
	}
	return sdkaws.UnknownTernary
}

// writeOptions makes an Auto Scaling call use the write retryer.
func (c *Client) writeOptions(o *autoscaling.Options) { o.Retryer = c.writeRetryer }

// callCounter counts every request attempt by operation; it sits after the SDK's retry
// middleware, so retries count.
type callCounter struct{ c *Client }

// ID names the middleware.
func (callCounter) ID() string { return "LambdaScaleCallCounter" }

// HandleFinalize counts the attempt and sends it.
func (m callCounter) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	op := awsmiddleware.GetOperationName(ctx)
	m.c.mu.Lock()
	m.c.calls[op]++
	m.c.mu.Unlock()
	out, md, err := next.HandleFinalize(ctx, in)
	if m.c.onCall != nil {
		code := ""
		if err != nil {
			code = cloud.ErrorCode(apiError(op, err))
			if code == "" {
				code = "Error"
			}
		}
		m.c.onCall(op, code)
	}
	return out, md, err
}

// Calls returns how many requests the client has sent, by API action
// ("DescribeAutoScalingGroups": 3), SDK retries included. It is what AWS counts against
// the account's request rate.
func (c *Client) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// TotalCalls returns the number of requests the client has sent, all actions together.
func (c *Client) TotalCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// observed returns the last description of group if it may authorize a write.
func (c *Client) observed(group string) (*observation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.groups[group]
	if !ok {
		return nil, fmt.Errorf("no description of the group since the client started or since its last failed write: %w", cloud.ErrNotDescribed)
	}
	if age := c.clock.Since(o.at); age > c.maxAge {
		return nil, fmt.Errorf("the group's last description is %s old (at most %s): %w", age.Round(time.Second), c.maxAge, cloud.ErrNotDescribed)
	}
	cp := *o
	return &cp, nil
}

// forget drops the last description of group, so that no write follows a failed one
// before the group is described again.
func (c *Client) forget(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.groups, group)
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
