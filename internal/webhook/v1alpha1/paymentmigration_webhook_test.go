package v1alpha1

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"
)

var now = time.Date(2026, 3, 4, 12, 5, 6, 0, time.UTC)

func object(approved bool, annotations string) []byte {
	return []byte(`{"apiVersion":"payments.tapstack.io/v1alpha1","kind":"PaymentMigration","metadata":{"name":"pm","namespace":"default"` +
		annotations + `},"spec":{"environmentSuffix":"pr1","cutover":{"approved":` + map[bool]string{true: "true", false: "false"}[approved] + `}}}`)
}

func request(op admissionv1.Operation, old, new []byte, user string) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "req-1", Operation: op,
		Object: runtime.RawExtension{Raw: new}, OldObject: runtime.RawExtension{Raw: old},
		UserInfo: authenticationv1.UserInfo{Username: user, UID: "uid-" + user},
	}}
}

// The handler decodes the request into the decision and answers with its
// patch, warnings or refusal; anything it cannot read is an error, which
// failurePolicy Fail turns into a refused request.
func TestHandle(t *testing.T) {
	stamped := `,"annotations":{"payments.tapstack.io/approved-by":"alice","payments.tapstack.io/approved-by-uid":"uid-alice","payments.tapstack.io/approved-at":"2026-03-01T09:00:00Z"}`
	forged := `,"annotations":{"payments.tapstack.io/approved-by":"mallory"}`
	cases := []struct {
		name     string
		req      admission.Request
		allowed  bool
		code     int32
		patch    string // the JSON patch, "" none
		warnings bool
	}{{
		name:    "an update that approves is stamped with the requesting user",
		req:     request(admissionv1.Update, object(false, ""), object(true, ""), "alice"),
		allowed: true,
		patch:   `[{"op":"add","path":"/metadata/annotations","value":{"payments.tapstack.io/approved-at":"2026-03-04T12:05:06Z","payments.tapstack.io/approved-by":"alice","payments.tapstack.io/approved-by-uid":"uid-alice"}}]`,
	}, {
		name:     "a create that approves under a forged name is stamped with the creator",
		req:      request(admissionv1.Create, nil, object(true, forged), "bob"),
		allowed:  true,
		patch:    `[{"op":"replace","path":"/metadata/annotations/payments.tapstack.io~1approved-by","value":"bob"},{"op":"add","path":"/metadata/annotations/payments.tapstack.io~1approved-by-uid","value":"uid-bob"},{"op":"add","path":"/metadata/annotations/payments.tapstack.io~1approved-at","value":"2026-03-04T12:05:06Z"}]`,
		warnings: true,
	}, {
		name:     "a forged approver on an approved migration is put back",
		req:      request(admissionv1.Update, object(true, stamped), object(true, strings.Replace(stamped, `"alice"`, `"mallory"`, 1)), "mallory"),
		allowed:  true,
		patch:    `[{"op":"replace","path":"/metadata/annotations/payments.tapstack.io~1approved-by","value":"alice"}]`,
		warnings: true,
	}, {
		name:    "an update that leaves the approval alone changes nothing",
		req:     request(admissionv1.Update, object(true, stamped), object(true, stamped), "bob"),
		allowed: true,
	}, {
		name: "an approval without a user name is refused",
		req:  request(admissionv1.Update, object(false, ""), object(true, ""), ""),
		code: http.StatusForbidden,
	}, {
		name: "an object that is not JSON is an error",
		req:  request(admissionv1.Update, object(false, ""), []byte("{"), "alice"),
		code: http.StatusBadRequest,
	}, {
		name: "an update without the stored object is an error",
		req:  request(admissionv1.Update, nil, object(true, ""), "alice"),
		code: http.StatusBadRequest,
	}, {
		name:    "a delete is not the webhook's business",
		req:     request(admissionv1.Delete, object(true, stamped), nil, "alice"),
		allowed: true,
	}}
	h := &ApprovalStamper{Now: func() time.Time { return now }}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.Handle(context.Background(), c.req)
			if err := resp.Complete(c.req); err != nil {
				t.Fatal(err)
			}
			if resp.Allowed != c.allowed {
				t.Fatalf("allowed %v, want %v: %+v", resp.Allowed, c.allowed, resp.Result)
			}
			if !c.allowed {
				if resp.Result.Code != c.code || resp.Result.Message == "" {
					t.Errorf("result %+v, want code %d with a message", resp.Result, c.code)
				}
				return
			}
			if got := string(resp.Patch); got != c.patch {
				t.Errorf("patch\n got %s\nwant %s", got, c.patch)
			}
			if c.patch != "" && (resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch) {
				t.Errorf("patch type %v, want JSONPatch", resp.PatchType)
			}
			if got := len(resp.Warnings) > 0; got != c.warnings {
				t.Errorf("warnings %q, want some: %v", resp.Warnings, c.warnings)
			}
		})
	}
}

// The configuration the markers generate (config/webhook) calls the path
// served, for every create and update, and refuses requests while the
// webhook cannot answer.
func TestGeneratedConfiguration(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(cfg.Webhooks))
	}
	w := cfg.Webhooks[0]
	if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != MutatePath {
		t.Errorf("clientConfig %+v, want the service path %s", w.ClientConfig, MutatePath)
	}
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
		t.Error("failurePolicy is not Fail: an approval could be stored without its approver")
	}
	if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone {
		t.Error("sideEffects is not None: dry runs would be refused")
	}
	if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Error("reinvocationPolicy is not IfNeeded: a later mutating webhook could change the stamp")
	}
	if len(w.Rules) != 1 || !slices.Equal(w.Rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) ||
		!slices.Equal(w.Rules[0].Resources, []string{"paymentmigrations"}) {
		t.Errorf("rules %+v, want create and update of paymentmigrations", w.Rules)
	}
}
