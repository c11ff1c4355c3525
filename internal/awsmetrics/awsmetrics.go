// Package awsmetrics counts the operator's AWS API calls and their errors, by
// service and operation, from inside the SDK's middleware stack, so every
// client built from the operator's aws.Config is counted without each package
// having to remember to.
package awsmetrics

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"
)

// Error codes for failures that carry no AWS error code.
const (
	CodeCanceled  = "RequestCanceled"
	CodeTimeout   = "RequestTimeout"
	CodeSendError = "RequestSendError"
	// CodeInvalidParams: the SDK refused the input before sending it.
	CodeInvalidParams = "InvalidParams"
	CodeUnknown       = "Unknown"
)

// Recorder holds the counters.
type Recorder struct {
	calls  *prometheus.CounterVec
	errors *prometheus.CounterVec
}

// New creates the counters and registers them on reg (the manager's
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry, so they are served on
// its metrics endpoint).
func New(reg prometheus.Registerer) *Recorder {
	r := &Recorder{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_migration_aws_api_calls_total",
			Help: "AWS API calls made by the operator, by service and operation. SDK retries of a call count once.",
		}, []string{"service", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payment_migration_aws_api_errors_total",
			Help: "AWS API calls that failed after the SDK's retries, by service, operation and AWS error code.",
		}, []string{"service", "operation", "code"}),
	}
	reg.MustRegister(r.calls, r.errors)
	return r
}

// Middleware returns an aws.Config APIOptions entry that counts each call.
// It sits first in the initialize step: outside the retry loop, because a
// call the SDK retried three times is one call to whoever made it and what
// failed is what finally reached the caller; before input validation, because
// an input the SDK refuses is a bug worth seeing.
func (r *Recorder) Middleware() func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("PaymentMigrationAPIMetrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				service, operation := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				r.calls.WithLabelValues(service, operation).Inc()
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil {
					r.errors.WithLabelValues(service, operation, Code(err)).Inc()
				}
				return out, md, err
			}), middleware.Before)
	}
}

// Code is the AWS error code of err, or a name for the failures that never got
// an answer from AWS.
func Code(err error) string {
	var apiErr smithy.APIError
	var sendErr *smithyhttp.RequestSendError
	var invalid smithy.InvalidParamsError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() != "":
		return apiErr.ErrorCode()
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.As(err, &sendErr):
		return CodeSendError
	case errors.As(err, &invalid):
		return CodeInvalidParams
	default:
		return CodeUnknown
	}
}
