package install_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// access is one Kubernetes API request as RBAC sees it: the attributes the
// API server's own RequestInfoFactory derives from the URL and method.
type access struct {
	Verb, Group, Resource, Subresource, Namespace string
	// Path is set for a non-resource request (discovery, /version).
	Path string
}

func (a access) String() string {
	if a.Path != "" {
		return a.Verb + " " + a.Path
	}
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	group := a.Group
	if group == "" {
		group = "core"
	}
	where := "cluster-wide"
	if a.Namespace != "" {
		where = "in " + a.Namespace
	}
	return fmt.Sprintf("%s %s.%s %s", a.Verb, res, group, where)
}

// recorder wraps a rest.Config's transport and keeps every request made
// through it with the status code of its answer.
type recorder struct {
	mu      sync.Mutex
	seen    map[access]bool
	refused map[access]int // access -> status code (401, 403)
	info    request.RequestInfoFactory
}

func newRecorder() *recorder {
	return &recorder{
		seen:    map[access]bool{},
		refused: map[access]int{},
		// As kube-apiserver configures it (the map literal is its sets.String).
		info: request.RequestInfoFactory{
			APIPrefixes:          map[string]sets.Empty{"api": {}, "apis": {}},
			GrouplessAPIPrefixes: map[string]sets.Empty{"api": {}},
		},
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrap is a rest.Config WrapTransport.
func (r *recorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		info, ierr := r.info.NewRequestInfo(req)
		if ierr != nil {
			return resp, err
		}
		a := access{Verb: info.Verb}
		if info.IsResourceRequest {
			a.Group, a.Resource, a.Subresource, a.Namespace = info.APIGroup, info.Resource, info.Subresource, info.Namespace
		} else {
			a.Path = info.Path
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen[a] = true
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			r.refused[a] = resp.StatusCode
		}
		return resp, err
	})
}

// accesses are the distinct requests seen, sorted.
func (r *recorder) accesses() []access {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]access, 0, len(r.seen))
	for a := range r.seen {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (r *recorder) refusals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for a, code := range r.refused {
		out = append(out, fmt.Sprintf("%s: HTTP %d", a, code))
	}
	slices.Sort(out)
	return out
}

// summary lists the requests, one a line, for the test log.
func summary(as []access) string {
	lines := make([]string, len(as))
	for i, a := range as {
		lines[i] = "  " + a.String()
	}
	return strings.Join(lines, "\n")
}
