package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// codedError stands for the SDK's smithy.APIError, which this package does not import.
type codedError struct{ code string }

func (e codedError) Error() string     { return "api error " + e.code }
func (e codedError) ErrorCode() string { return e.code }

func TestErrorClassification(t *testing.T) {
	wrap := func(err error) error {
		return fmt.Errorf("setting desired capacity of Auto Scaling group %q to 4: %w", "g", err)
	}
	for _, c := range []struct {
		name                              string
		err                               error
		code                              string
		retryable, throttling, validation bool
	}{
		{"nil", nil, "", false, false, false},
		{"scaling activity in progress", wrap(&APIError{Op: "SetDesiredCapacity", Code: "ScalingActivityInProgress", HTTPStatus: 400}), "ScalingActivityInProgress", true, false, false},
		{"resource contention", wrap(&APIError{Code: "ResourceContention", HTTPStatus: 500}), "ResourceContention", true, false, false},
		{"autoscaling throttling", wrap(&APIError{Code: "Throttling", HTTPStatus: 400}), "Throttling", true, true, false},
		{"ec2 throttling", wrap(&APIError{Code: "RequestLimitExceeded", HTTPStatus: 503}), "RequestLimitExceeded", true, true, false},
		{"validation", wrap(&APIError{Code: "ValidationError", HTTPStatus: 400}), "ValidationError", false, false, true},
		{"html 503 without a code", wrap(&APIError{HTTPStatus: 503}), "", true, false, false},
		{"other 4xx", wrap(&APIError{Code: "AccessDenied", HTTPStatus: 403}), "AccessDenied", false, false, false},
		// The APIError is authoritative: the coded SDK error beneath it is not consulted.
		{"api error over an sdk error", &APIError{HTTPStatus: 503, Err: codedError{"UnknownError"}}, "", true, false, false},
		{"sdk error without APIError", wrap(codedError{"ThrottlingException"}), "ThrottlingException", true, true, false},
		{"deadline", wrap(context.DeadlineExceeded), "", true, false, false},
		{"canceled", wrap(context.Canceled), "", false, false, false},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "", true, false, false},
		{"local refusal", wrap(ErrOutsideBounds), "", false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ErrorCode(c.err); got != c.code {
				t.Errorf("ErrorCode = %q, want %q", got, c.code)
			}
			if got := IsRetryable(c.err); got != c.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, c.retryable)
			}
			if got := IsThrottling(c.err); got != c.throttling {
				t.Errorf("IsThrottling = %v, want %v", got, c.throttling)
			}
			if got := IsValidation(c.err); got != c.validation {
				t.Errorf("IsValidation = %v, want %v", got, c.validation)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	cause := errors.New("sdk error")
	e := &APIError{Op: "SetDesiredCapacity", Code: "ValidationError", Message: "New SetDesiredCapacity value 5 is above max value 3 for the AutoScalingGroup.",
		HTTPStatus: 400, RequestID: "req-1", Attempts: 1, Err: cause}
	want := "SetDesiredCapacity: ValidationError: New SetDesiredCapacity value 5 is above max value 3 for the AutoScalingGroup. (HTTP 400 Bad Request, request id req-1)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, cause) {
		t.Error("APIError does not unwrap to its cause")
	}
	if got := HTTPStatus(fmt.Errorf("x: %w", e)); got != 400 {
		t.Errorf("HTTPStatus = %d, want 400", got)
	}
}

func TestMissingGroupsError(t *testing.T) {
	err := fmt.Errorf("describing Auto Scaling groups: %w", &MissingGroupsError{Names: []string{"a", "b"}})
	if !errors.Is(err, ErrGroupNotFound) {
		t.Error("MissingGroupsError does not wrap ErrGroupNotFound")
	}
	want := `describing Auto Scaling groups: auto scaling group not found: "a", "b" (wrong name, region or account?)`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
