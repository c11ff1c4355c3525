// Package crdschema applies the PaymentMigration CRD's own schema outside the API
// server: pruning of unknown fields, structural defaulting, OpenAPI validation and
// the CEL x-kubernetes-validations rules, with the API server's code and in its
// order. Tools such as the tapstack CLI use it so that a file they accept is a file
// `kubectl apply` accepts, defaulted to the same object, and the defaults are never
// typed a second time.
package crdschema

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/config/crd"
)

// Schema is the compiled schema of one served version of the CRD.
type Schema struct {
	group, version, kind string
	structural           *structuralschema.Structural
	validator            apiservervalidation.SchemaValidator
	cel                  *cel.Validator
}

// PaymentMigration compiles the v1alpha1 schema of the embedded, generated CRD.
func PaymentMigration() (*Schema, error) {
	return Compile(crd.PaymentMigrations, v1alpha1.GroupVersion.Version)
}

// Compile builds the schema of version from a CRD manifest.
func Compile(crdYAML []byte, version string) (*Schema, error) {
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crdYAML, &v1); err != nil {
		return nil, fmt.Errorf("parse CRD: %w", err)
	}
	var internal apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil); err != nil {
		return nil, fmt.Errorf("convert CRD %s to the internal version: %w", v1.Name, err)
	}
	props, err := versionSchema(&internal, version)
	if err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, fmt.Errorf("CRD %s version %s: schema is not structural: %w", v1.Name, version, err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		return nil, fmt.Errorf("CRD %s version %s: build OpenAPI validator: %w", v1.Name, version, err)
	}
	return &Schema{
		group:      internal.Spec.Group,
		version:    version,
		kind:       internal.Spec.Names.Kind,
		structural: structural,
		validator:  validator,
		// The API server compiles CEL rules with the same per-call limit.
		cel: cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

func versionSchema(c *apiextensions.CustomResourceDefinition, version string) (*apiextensions.JSONSchemaProps, error) {
	for _, v := range c.Spec.Versions {
		if v.Name == version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return v.Schema.OpenAPIV3Schema, nil
		}
	}
	if c.Spec.Validation != nil && c.Spec.Validation.OpenAPIV3Schema != nil {
		return c.Spec.Validation.OpenAPIV3Schema, nil
	}
	return nil, fmt.Errorf("CRD %s has no schema for version %s", c.Name, version)
}

// APIVersion is group/version of the schema.
func (s *Schema) APIVersion() string { return s.group + "/" + s.version }

// Admit does to obj what the API server does to a created object before it is
// stored: reject unknown fields (kubectl's default strict field validation), apply
// defaults, then run the OpenAPI and CEL validations. obj is modified in place. The
// returned errors name the offending field.
func (s *Schema) Admit(ctx context.Context, obj map[string]any) field.ErrorList {
	if errs := s.checkTypeMeta(obj); len(errs) > 0 {
		return errs
	}
	unknown := pruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(unknown) > 0 {
		return unknownFieldErrors(unknown)
	}
	defaulting.Default(obj, s.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, s.validator)
	celErrs, _ := s.cel.Validate(ctx, nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

func (s *Schema) checkTypeMeta(obj map[string]any) field.ErrorList {
	var errs field.ErrorList
	if got, _ := obj["apiVersion"].(string); got != s.APIVersion() {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), got, "must be "+s.APIVersion()))
	}
	if got, _ := obj["kind"].(string); got != s.kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), got, "must be "+s.kind))
	}
	return errs
}

// unknownFieldErrors reports fields the schema does not know, as the API server
// does under strict field validation.
func unknownFieldErrors(paths []string) field.ErrorList {
	errs := make(field.ErrorList, 0, len(paths))
	for _, p := range paths {
		errs = append(errs, field.Forbidden(field.NewPath(p), "unknown field (strict field validation, as kubectl apply)"))
	}
	return errs
}

// DecodePaymentMigration parses one PaymentMigration manifest (YAML or JSON),
// admits it like the API server would, and returns the typed, defaulted object.
func DecodePaymentMigration(ctx context.Context, manifest []byte) (*v1alpha1.PaymentMigration, error) {
	s, err := PaymentMigration()
	if err != nil {
		return nil, err
	}
	obj, err := parseManifest(manifest)
	if err != nil {
		return nil, err
	}
	if errs := s.Admit(ctx, obj); len(errs) > 0 {
		return nil, &InvalidError{Kind: s.kind, Errors: errs}
	}
	var pm v1alpha1.PaymentMigration
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, &pm, true); err != nil {
		return nil, fmt.Errorf("convert admitted %s: %w", s.kind, err)
	}
	return &pm, nil
}

// parseManifest decodes like the API server: integers stay int64 (not float64), which
// the OpenAPI and CEL validators of integer fields rely on.
func parseManifest(manifest []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSONStrict(manifest)
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("parse manifest: the document is empty or not an object")
	}
	return obj, nil
}

// InvalidError is a manifest the API server would refuse; each error names its
// field, one per line.
type InvalidError struct {
	Kind   string
	Errors field.ErrorList
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid %s:", e.Kind)
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}
