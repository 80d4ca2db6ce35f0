package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/lambdascale/lambdascale/internal/cloud"
)

// apiError reduces an SDK error of the API action op to a *cloud.APIError that keeps the
// SDK error as its cause, so the controller classifies it with cloud.ErrorCode,
// cloud.IsRetryable, cloud.IsThrottling and cloud.IsValidation without importing the SDK.
//
// An answer whose body is not an AWS error document (a load balancer's HTML 503 page, which
// the SDK reports as an XML syntax error or an "UnknownError") gets no code and a message
// saying so, instead of the SDK's confusing XML error.
func apiError(op string, err error) error {
	if err == nil {
		return nil
	}
	e := &cloud.APIError{Op: op, Err: err}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		e.HTTPStatus = status.HTTPStatusCode()
	}
	var reqID interface{ ServiceRequestID() string }
	if errors.As(err, &reqID) {
		e.RequestID = reqID.ServiceRequestID()
	}
	var attempts *retry.MaxAttemptsError
	if errors.As(err, &attempts) {
		e.Attempts = attempts.Attempt
	}

	var api smithy.APIError
	var deser *smithy.DeserializationError
	var urlErr *url.Error
	switch {
	case identityError(err) != "":
		// The credential chain failed (no credentials, an expired session, a metadata
		// service refusing): no request reached the API, whatever status the chain saw.
		e.HTTPStatus, e.RequestID = 0, ""
		e.Message = "getting AWS credentials: " + identityError(err)
	case errors.As(err, &api) && api.ErrorCode() != "UnknownError":
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	case e.HTTPStatus >= 300 || (e.HTTPStatus != 0 && !errors.As(err, &deser)):
		e.Message = "the answer is not an AWS error document (a proxy or load balancer answering?)"
	case errors.As(err, &deser):
		e.Message = fmt.Sprintf("reading the answer: %v", deser.Err)
	case errors.Is(err, context.DeadlineExceeded):
		e.Message = "no answer before the deadline"
	case errors.Is(err, context.Canceled):
		e.Message = "canceled"
	case errors.As(err, &urlErr):
		e.Message = fmt.Sprintf("sending the request: %v", urlErr.Err)
	default:
		var op *smithy.OperationError
		if errors.As(err, &op) {
			e.Message = op.Err.Error()
		} else {
			e.Message = err.Error()
		}
	}
	return e
}

// identityError returns the cause of a failure to get credentials, which the SDK's
// generated clients report as "get identity: ..." (no error type marks it); "" for any
// other error.
func identityError(err error) string {
	for ; err != nil; err = errors.Unwrap(err) {
		if rest, ok := strings.CutPrefix(err.Error(), "get identity: "); ok {
			return strings.TrimPrefix(rest, "get credentials: ")
		}
	}
	return ""
}
