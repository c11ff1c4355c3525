// Package tapstack synthesizes the CloudFormation template of a PaymentMigration:
// one pure function from a defaulted spec (and the region the controller resolved)
// to the whole TapStack, rendered byte-identically for the same input. Resources
// are typed goformation structs, grouped by layer, one file per layer; passes
// over the finished template (aspects.go) then apply what must hold everywhere:
// tags, encryption of every bucket, the permissions boundary of every role,
// and destroyable deletion policies.
package tapstack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"

	"github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Template is a synthesized TapStack.
type Template struct {
	cfn      *cloudformation.Template
	minified []byte
}

// Synthesize builds the template of spec for a stack in region. spec must carry the
// CRD defaults (the API server or crdschema applies them); region is passed in
// because spec.region may be empty until the controller resolves it. The account,
// partition and availability zones come from pseudo parameters and Fn::GetAZs, so
// nothing here touches the network, the clock or the environment; what only the
// operator knows (the Route 53 prefix list id, the cutover state from status)
// comes in as template parameters.
func Synthesize(spec v1alpha1.PaymentMigrationSpec, region string) (*Template, error) {
	if err := checkSpec(spec, region); err != nil {
		return nil, fmt.Errorf("synthesize TapStack: %w", err)
	}
	b := newBuilder(spec, region)
	for _, layer := range []func(){
		b.network, b.databases, b.replication, b.storage,
		b.service, b.traffic, b.observability, b.outputs,
	} {
		layer()
	}
	applyAspects(b.t, spec)
	return newTemplate(b.t)
}

func newTemplate(t *cloudformation.Template) (*Template, error) {
	minified, err := render(t)
	if err != nil {
		return nil, fmt.Errorf("render TapStack: %w", err)
	}
	return &Template{cfn: t, minified: minified}, nil
}

// JSON is the minified template, the form sent to CloudFormation and hashed.
func (t *Template) JSON() []byte { return append([]byte(nil), t.minified...) }

// PrettyJSON is the template indented for people (and the golden file).
func (t *Template) PrettyJSON() ([]byte, error) { return prettyJSON(t.minified) }

// YAML is the template as YAML, with long-form intrinsics.
func (t *Template) YAML() ([]byte, error) { return toYAML(t.minified) }

// Hash is the sha256 of the minified template, "sha256:<hex>". The controller
// compares it with the hash recorded in status to decide whether to update the
// stack.
func (t *Template) Hash() string {
	sum := sha256.Sum256(t.minified)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ResourceCount is the number of resources of the template.
func (t *Template) ResourceCount() int { return len(t.cfn.Resources) }

// OutputCount is the number of stack outputs.
func (t *Template) OutputCount() int { return len(t.cfn.Outputs) }

// requiredTags must be on every taggable resource (SPEC section 3).
var requiredTags = []string{"Environment", "MigrationPhase", "CostCenter"}

// checkSpec refuses specs that did not go through defaulting or validation: a
// template built from zero values would deploy something nobody asked for.
func checkSpec(spec v1alpha1.PaymentMigrationSpec, region string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if spec.EnvironmentSuffix == "" || len(spec.EnvironmentSuffix) > naming.MaxSuffixLength {
		fail("spec.environmentSuffix must have 1 to %d characters, got %q", naming.MaxSuffixLength, spec.EnvironmentSuffix)
	}
	if region == "" {
		fail("region is empty; pass spec.region or the operator's default region")
	}
	for _, k := range requiredTags {
		if _, ok := spec.Tags[k]; !ok {
			fail("spec.tags must contain %s", k)
		}
	}
	for _, f := range []struct {
		field string
		v     int32
	}{
		{"spec.service.port", spec.Service.Port},
		{"spec.service.cpu", spec.Service.CPU},
		{"spec.service.memoryMiB", spec.Service.MemoryMiB},
		{"spec.database.allocatedStorageGiB", spec.Database.AllocatedStorageGiB},
		{"spec.database.backupRetentionDays", spec.Database.BackupRetentionDays},
		{"spec.replication.allocatedStorageGiB", spec.Replication.AllocatedStorageGiB},
		{"spec.replication.lagThresholdSeconds", spec.Replication.LagThresholdSeconds},
		{"spec.storage.glacierTransitionDays", spec.Storage.GlacierTransitionDays},
		{"spec.traffic.healthCheck.requestIntervalSeconds", spec.Traffic.HealthCheck.RequestIntervalSeconds},
		{"spec.traffic.healthCheck.failureThreshold", spec.Traffic.HealthCheck.FailureThreshold},
		{"spec.service.maxCapacity", spec.Service.MaxCapacity},
		{"spec.cutover.writerRecordTTLSeconds", spec.Cutover.WriterRecordTTLSeconds},
	} {
		if f.v <= 0 {
			fail("%s is %d; apply the CRD defaults first", f.field, f.v)
		}
	}
	for _, f := range []struct {
		field string
		v     string
	}{
		{"spec.network.vpcCIDR", spec.Network.VPCCIDR},
		{"spec.database.engineVersion", spec.Database.EngineVersion},
		{"spec.database.instanceClass", spec.Database.InstanceClass},
		{"spec.database.databaseName", spec.Database.DatabaseName},
		{"spec.database.masterUsername", spec.Database.MasterUsername},
		{"spec.database.applicationUsername", spec.Database.ApplicationUsername},
		{"spec.replication.engineVersion", spec.Replication.EngineVersion},
		{"spec.replication.instanceClass", spec.Replication.InstanceClass},
		{"spec.replication.migrationType", string(spec.Replication.MigrationType)},
		{"spec.replication.schema", spec.Replication.Schema},
		{"spec.service.image", spec.Service.Image},
		{"spec.service.healthCheckPath", spec.Service.HealthCheckPath},
		{"spec.traffic.hostedZoneName", spec.Traffic.HostedZoneName},
		{"spec.traffic.recordName", spec.Traffic.RecordName},
		{"spec.cutover.writerRecordName", spec.Cutover.WriterRecordName},
		{"spec.traffic.healthCheck.path", spec.Traffic.HealthCheck.Path},
	} {
		if f.v == "" {
			fail("%s is empty; apply the CRD defaults first", f.field)
		}
	}
	if spec.SQLRunner.Mode == v1alpha1.SQLRunnerInVPC && spec.SQLRunner.Image == "" {
		fail("spec.sqlRunner.image is empty with spec.sqlRunner.mode InVPC; apply the CRD defaults first")
	}
	if len(spec.Replication.Tables) == 0 {
		fail("spec.replication.tables is empty; apply the CRD defaults first")
	}
	if n := len(spec.Cutover.Steps); n == 0 || spec.Cutover.Steps[n-1] != 100 {
		fail("spec.cutover.steps must end at 100, got %v", spec.Cutover.Steps)
	}
	if z := spec.Network.AvailabilityZones; len(z) != 0 && len(z) != azCount {
		fail("spec.network.availabilityZones must name %d zones, got %d", azCount, len(z))
	}
	if w := spec.Cutover.WriterRecordName; w != "" && (w == spec.Traffic.RecordName || w == string(naming.Source) || w == string(naming.Target)) {
		// Route 53 refuses a CNAME next to any other record of the same name.
		fail("spec.cutover.writerRecordName %q collides with another record of the zone (%s, source, target)", w, spec.Traffic.RecordName)
	}
	if u := spec.Database.ApplicationUsername; u != "" && u == spec.Database.MasterUsername {
		fail("spec.database.applicationUsername must differ from spec.database.masterUsername: the cutover fences the application's role")
	}
	switch src := spec.Source; src.Type {
	case v1alpha1.SourceManaged:
	case v1alpha1.SourceACK, v1alpha1.SourceAWS:
		if (src.Type == v1alpha1.SourceACK) != (src.ACK != nil) || (src.Type == v1alpha1.SourceAWS) != (src.AWS != nil) {
			fail("spec.source.%s must be set exactly when spec.source.type is %s", strings.ToLower(string(src.Type)), src.Type)
		}
		if src.ApplicationSecretARN == "" {
			fail("spec.source.applicationSecretARN is required with an existing source: the cutover fences the role the current service writes as")
		}
	default:
		fail("spec.source.type %q is none of Managed, ACK, AWS; apply the CRD defaults first", src.Type)
	}
	if !strings.HasSuffix(spec.Traffic.HostedZoneName, ".internal") {
		fail("spec.traffic.hostedZoneName must end in .internal, got %q", spec.Traffic.HostedZoneName)
	}
	return errors.Join(errs...)
}

// builder accumulates the resources and outputs of one synthesis.
type builder struct {
	spec   v1alpha1.PaymentMigrationSpec
	region string
	names  naming.Names
	t      *cloudformation.Template
}

func newBuilder(spec v1alpha1.PaymentMigrationSpec, region string) *builder {
	t := cloudformation.NewTemplate()
	t.Description = fmt.Sprintf("TapStack%s: zero-downtime migration of the payment workload in %s (generated by tapstack; do not edit)",
		spec.EnvironmentSuffix, region)
	return &builder{spec: spec, region: region, names: naming.New(spec.EnvironmentSuffix), t: t}
}

// add registers a resource under its logical id; ids are constants of the layer
// files, so a duplicate is a programming error.
func (b *builder) add(logicalID string, r cloudformation.Resource) {
	if _, dup := b.t.Resources[logicalID]; dup {
		panic("tapstack: duplicate logical id " + logicalID)
	}
	b.t.Resources[logicalID] = r
}

// sided prefixes a logical id with its side: Source<name> or Target<name>.
func sided(s naming.Side, name string) string {
	return strings.ToUpper(string(s[:1])) + string(s[1:]) + name
}

// createServiceRoles reports whether the stack owns the account-wide DMS roles.
func (b *builder) createServiceRoles() bool {
	return b.spec.Replication.CreateServiceRoles == nil || *b.spec.Replication.CreateServiceRoles
}

func (b *builder) validation() bool {
	return b.spec.Replication.Validation == nil || *b.spec.Replication.Validation
}

// reversePath reports whether the stack carries the CDC path from the target
// back to the source, for a rollback after the flip.
func (b *builder) reversePath() bool {
	return b.spec.Cutover.ReversePath == nil || *b.spec.Cutover.ReversePath
}
