package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Provider is the node-group API the reconciler uses: observe groups, read their scaling
// activities, grow a group by an absolute desired capacity and shrink it by terminating chosen
// instances. The aws subpackage implements it with the AWS SDK.
//
// Writes are guarded by the last observation: an implementation refuses, without calling the
// cloud, a write that the last DescribeGroups of that group does not justify (a value outside
// [MinSize, MaxSize], an instance that is not a member). After any failed write, and before
// any write on a group that was never described, the group must be described again: a
// write is never repeated blindly.
type Provider interface {
	// DescribeGroups observes the named groups, with their member instances and the
	// instances' addresses, in as few API calls as the cloud allows. Every name must be
	// found: the error for missing groups wraps ErrGroupNotFound (see MissingGroupsError)
	// and the map then holds the groups that were found.
	DescribeGroups(ctx context.Context, names []string) (map[string]Group, error)
	// ScalingActivities returns up to limit of the group's most recent scaling activities,
	// newest first.
	ScalingActivities(ctx context.Context, group string, limit int32) ([]Activity, error)
	// SetDesiredCapacity sets the group's desired capacity to the absolute value desired,
	// in instances (or capacity units for weighted groups). It only grows a group.
	SetDesiredCapacity(ctx context.Context, group string, desired int32) error
	// TerminateInstance terminates one member of the group and decrements the group's
	// desired capacity, so that the group does not replace it.
	TerminateInstance(ctx context.Context, group, instanceID string) error
}

// Activity is one scaling activity of a group: a launch or a termination of an instance.
// Source: AutoScaling DescribeScalingActivities, "Activities[]".
type Activity struct {
	// ID is the activity id ("f9f2d65b-f1f2-43e7-b46d-d86756459699").
	ID string `json:"id"`
	// Description says what the activity does ("Launching a new EC2 instance: i-0abc...").
	Description string `json:"description,omitempty"`
	// Cause says why the activity started.
	Cause string `json:"cause,omitempty"`
	// StatusCode is the activity's state ("InProgress", "Successful", "Failed",
	// "Cancelled", "PendingSpotBidPlacement", ...).
	StatusCode string `json:"statusCode"`
	// StatusMessage explains the status, mostly of a failed activity.
	StatusMessage string `json:"statusMessage,omitempty"`
	// StartTime is when the activity started.
	StartTime time.Time `json:"startTime,omitzero"`
	// EndTime is when the activity ended; zero while it is in progress.
	EndTime time.Time `json:"endTime,omitzero"`
	// Progress is the activity's progress, in percent (0-100).
	Progress int32 `json:"progress"`
}

// Scaling activity status codes that the controller tells apart.
const (
	ActivityInProgress = "InProgress"
	ActivitySuccessful = "Successful"
	ActivityFailed     = "Failed"
	ActivityCancelled  = "Cancelled"
)

// Errors a Provider returns when it refuses a write without calling the cloud.
var (
	// ErrNotDescribed is wrapped when a write names a group that was not described, or
	// whose last description is too old or was invalidated by a failed write: call
	// DescribeGroups first.
	ErrNotDescribed = errors.New("auto scaling group not described recently")
	// ErrOutsideBounds is wrapped when a desired capacity would leave the group's
	// [MinSize, MaxSize], including a termination that would bring it below MinSize.
	ErrOutsideBounds = errors.New("desired capacity outside the group's bounds")
	// ErrLowersDesired is wrapped when SetDesiredCapacity would lower the desired capacity:
	// the cloud would then choose which instances to terminate.
	ErrLowersDesired = errors.New("lowering desired capacity would let the cloud choose the instances to terminate")
	// ErrNotMember is wrapped when TerminateInstance names an instance that is not a
	// member of the group.
	ErrNotMember = errors.New("instance is not a member of the auto scaling group")
	// ErrProtected is wrapped when TerminateInstance names an instance protected from
	// scale in. (AWS itself would terminate it: protection only stops AWS from choosing it.)
	ErrProtected = errors.New("instance is protected from scale in")
	// ErrNotInService is wrapped (by a *NotInServiceError) when TerminateInstance names an
	// instance that is not InService: one already terminating, in Standby, detaching,
	// launching, in a warm-pool or an unknown state is never terminated (again).
	ErrNotInService = errors.New("instance is not InService")
	// ErrProcessSuspended is wrapped when a write needs a scaling process that the
	// group's last description shows suspended ("Terminate" for TerminateInstance).
	ErrProcessSuspended = errors.New("a scaling process the write needs is suspended on the auto scaling group")
	// ErrUnknownInstanceType is wrapped when the cloud does not know an instance type
	// (EC2 DescribeInstanceTypes answers InvalidInstanceType, or leaves the type out).
	ErrUnknownInstanceType = errors.New("unknown instance type")
)

// NotInServiceError is the refusal to terminate an instance whose lifecycle state is not
// InService. It wraps ErrNotInService.
type NotInServiceError struct {
	// InstanceID is the instance refused.
	InstanceID string
	// LifecycleState is its state in the group's last description ("Terminating:Wait",
	// "Standby", ...).
	LifecycleState string
}

// Error names the instance and its state.
func (e *NotInServiceError) Error() string {
	return fmt.Sprintf("instance %s is %s, not %s: it is not capacity and is not terminated (again)",
		e.InstanceID, e.LifecycleState, StateInService)
}

// Unwrap returns ErrNotInService.
func (e *NotInServiceError) Unwrap() error { return ErrNotInService }

// AlreadyTerminating reports whether the instance is already leaving the group
// (Instance.IsTerminatingOrGone): a repeated decision that needs no write.
func (e *NotInServiceError) AlreadyTerminating() bool {
	return Instance{LifecycleState: e.LifecycleState}.IsTerminatingOrGone()
}

// FailedLaunches returns the launch activities of acts that failed (StatusCode Failed,
// such as EC2 lacking capacity in the zone or an instance limit) or were cancelled
// (Cancelled, such as a launch lifecycle hook abandoned), and that ended at or after since
// (started, for one without an end time), in the order of acts. A zero since keeps them
// all. A failed launch started no instance; a cancelled one started an instance that is
// then terminated: neither is capacity.
func FailedLaunches(acts []Activity, since time.Time) []Activity {
	var out []Activity
	for _, a := range acts {
		if a.StatusCode != ActivityFailed && a.StatusCode != ActivityCancelled {
			continue
		}
		if !strings.HasPrefix(a.Description, "Launching") {
			continue
		}
		at := a.EndTime
		if at.IsZero() {
			at = a.StartTime
		}
		if !since.IsZero() && at.Before(since) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// InstanceID returns the EC2 instance id the activity's description names ("Launching a
// new EC2 instance: i-0abc.  Status Reason: ..."; "Terminating EC2 instance: i-0abc";
// "Moving EC2 instance to Standby: i-0abc"); "" when it names none, as for a launch that
// failed before EC2 started an instance.
func (a Activity) InstanceID() string {
	_, rest, ok := strings.Cut(a.Description, ": i-")
	if !ok {
		return ""
	}
	rest = "i-" + rest
	hex := strings.IndexFunc(rest[2:], func(r rune) bool {
		return !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'f'))
	})
	if hex < 0 {
		hex = len(rest) - 2
	}
	if hex == 0 {
		return ""
	}
	return rest[:2+hex]
}

// MissingGroupsError is returned by Provider.DescribeGroups when some of the named groups do
// not exist (wrong name, region or account, or a deleted group). It wraps ErrGroupNotFound.
type MissingGroupsError struct {
	// Names are the names that the cloud did not describe, sorted.
	Names []string
}

// Error names the missing groups.
func (e *MissingGroupsError) Error() string {
	quoted := make([]string, len(e.Names))
	for i, n := range e.Names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return fmt.Sprintf("%s: %s (wrong name, region or account?)", ErrGroupNotFound, joinCapped(quoted, 20))
}

// Unwrap returns ErrGroupNotFound.
func (e *MissingGroupsError) Unwrap() error { return ErrGroupNotFound }

// APIError is an error answered by a cloud API, or a failure to reach it, reduced to what
// the controller needs without importing the SDK. The aws package returns it (wrapped with
// context) for every failed call.
type APIError struct {
	// Op is the API action called ("SetDesiredCapacity", "DescribeInstances").
	Op string
	// Code is the API's error code ("ValidationError", "Throttling",
	// "ScalingActivityInProgress"); empty when the answer carried none (a network error,
	// or a body that is not an API error document such as a proxy's HTML page).
	Code string
	// Message is the API's error message, or a description of the failure.
	Message string
	// HTTPStatus is the HTTP status of the answer; 0 when there was none.
	HTTPStatus int
	// RequestID is the API's request id, for support cases; empty when unknown.
	RequestID string
	// Attempts is how many times the request was sent, counting SDK retries; 0 when unknown.
	Attempts int
	// Err is the underlying error (from the SDK).
	Err error
}

// Error reads "SetDesiredCapacity: ValidationError: <message> (HTTP 400 Bad Request,
// request id ...)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var details []string
	if e.HTTPStatus != 0 {
		details = append(details, strings.TrimSpace(fmt.Sprintf("HTTP %d %s", e.HTTPStatus, http.StatusText(e.HTTPStatus))))
	}
	if e.RequestID != "" {
		details = append(details, "request id "+e.RequestID)
	}
	if e.Attempts > 1 {
		details = append(details, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if len(details) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(details, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

// Error codes of the AWS APIs that the controller tells apart.
const (
	CodeValidationError           = "ValidationError"
	CodeScalingActivityInProgress = "ScalingActivityInProgress"
	CodeResourceContention        = "ResourceContention"
	CodeThrottling                = "Throttling"
	CodeRequestLimitExceeded      = "RequestLimitExceeded"
)

// throttlingCodes are the error codes AWS services use for throttling.
var throttlingCodes = map[string]bool{
	"Throttling":                true,
	"ThrottlingException":       true,
	"ThrottledException":        true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
	"RequestLimitExceeded":      true,
	"TooManyRequestsException":  true,
	"EC2ThrottledException":     true,
}

// validationCodes are the error codes of requests the API refused as invalid.
var validationCodes = map[string]bool{
	"ValidationError":             true,
	"InvalidParameterValue":       true,
	"InvalidParameterCombination": true,
	"MissingParameter":            true,
}

// busyCodes are the error codes of requests refused because of other work on the resource.
var busyCodes = map[string]bool{
	"ScalingActivityInProgress": true,
	"ResourceContention":        true,
	"IdempotentCallInProgress":  true,
	"InternalFailure":           true,
	"ServiceUnavailable":        true,
	"Unavailable":               true,
}

// ErrorCode returns the API error code carried by err: that of the first *APIError in its
// chain, else that of the first error with an ErrorCode() string method (such as the SDK's
// smithy.APIError); "" when none.
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code // authoritative: it has already read the SDK error beneath
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status of the API answer carried by err: that of the first
// *APIError in its chain, else that of the first error with an HTTPStatusCode() int method;
// 0 when none.
func HTTPStatus(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatus
	}
	var st interface{ HTTPStatusCode() int }
	if errors.As(err, &st) {
		return st.HTTPStatusCode()
	}
	return 0
}

// IsThrottling reports whether err is the API throttling the caller (Throttling,
// ThrottlingException, RequestLimitExceeded, ...): back off before calling again.
func IsThrottling(err error) bool {
	return err != nil && throttlingCodes[ErrorCode(err)]
}

// IsValidation reports whether the API refused the request as invalid (ValidationError,
// InvalidParameterValue, ...): the view the request was built from is wrong, so describe
// again instead of repeating the request.
func IsValidation(err error) bool {
	return err != nil && validationCodes[ErrorCode(err)]
}

// IsRetryable reports whether err is transient: throttling, a scaling activity in progress,
// resource contention, an HTTP 5xx answer, a connection failure, or a timeout. The
// controller requeues with backoff and describes the group again before deciding anew; it
// does not repeat the request blindly.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	code := ErrorCode(err)
	if throttlingCodes[code] || busyCodes[code] {
		return true
	}
	if validationCodes[code] {
		return false
	}
	if HTTPStatus(err) >= 500 {
		return true
	}
	var netErr *net.OpError // connection refused or reset: the endpoint may come back
	if errors.As(err, &netErr) {
		return true
	}
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}
