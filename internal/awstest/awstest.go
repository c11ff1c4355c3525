// Package awstest helps tests that build real AWS SDK configurations.
package awstest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// Isolate points the SDK at test credentials and the given endpoint only: no
// shared config or credentials file, no instance metadata, no region, retry or
// identity settings from the machine running the tests.
func Isolate(t testing.TB, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                   "AKIATESTONLY00000000",
		"AWS_SECRET_ACCESS_KEY":               "test-secret-not-real",
		"AWS_SESSION_TOKEN":                   "",
		"AWS_ENDPOINT_URL":                    endpoint,
		"AWS_CONFIG_FILE":                     filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":         filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                         "",
		"AWS_DEFAULT_PROFILE":                 "",
		"AWS_REGION":                          "",
		"AWS_DEFAULT_REGION":                  "",
		"AWS_EC2_METADATA_DISABLED":           "true",
		"AWS_MAX_ATTEMPTS":                    "",
		"AWS_RETRY_MODE":                      "",
		"AWS_ROLE_ARN":                        "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":         "",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	} {
		t.Setenv(k, v)
	}
}

// SlowServer is an AWS endpoint that answers every request with respond after
// delay, or gives up when the client hangs up or the test ends first: for
// tests of call timeouts through the real SDK client stack.
func SlowServer(t testing.TB, delay time.Duration, respond http.HandlerFunc) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return srv
}
