package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every default below is the product default of the specification; the markers
// are the only place defaults live. The `tapstack` CLI applies them from the
// generated CRD schema, exactly as the API server does.

// PaymentMigrationSpec declares one migration of the payment workload from its
// source environment to its target environment.
//
// +kubebuilder:validation:XValidation:rule="self.cutover.stepIntervalSeconds >= self.traffic.recordTTLSeconds",message="cutover.stepIntervalSeconds must be at least traffic.recordTTLSeconds, or resolvers still use the previous weights when the next step starts",fieldPath=".cutover.stepIntervalSeconds"
// +kubebuilder:validation:XValidation:rule="self.service.minCapacity <= self.service.desiredCount && self.service.desiredCount <= self.service.maxCapacity",message="service.desiredCount must lie between service.minCapacity and service.maxCapacity",fieldPath=".service.desiredCount"
// +kubebuilder:validation:XValidation:rule="(self.service.cpu == 256 && self.service.memoryMiB in [512, 1024, 2048]) || (self.service.cpu == 512 && self.service.memoryMiB >= 1024 && self.service.memoryMiB <= 4096 && self.service.memoryMiB % 1024 == 0) || (self.service.cpu == 1024 && self.service.memoryMiB >= 2048 && self.service.memoryMiB <= 8192 && self.service.memoryMiB % 1024 == 0) || (self.service.cpu == 2048 && self.service.memoryMiB >= 4096 && self.service.memoryMiB <= 16384 && self.service.memoryMiB % 1024 == 0) || (self.service.cpu == 4096 && self.service.memoryMiB >= 8192 && self.service.memoryMiB <= 30720 && self.service.memoryMiB % 1024 == 0)",message="service.memoryMiB is not a valid Fargate size for service.cpu",fieldPath=".service.memoryMiB"
// +kubebuilder:validation:XValidation:rule="has(self.region) == has(oldSelf.region)",message="region cannot be added or removed after creation"
// +kubebuilder:validation:XValidation:rule="!has(self.source) || self.source.type == 'Managed' || !has(self.database.allowRebootForParameterApply) || !self.database.allowRebootForParameterApply",message="database.allowRebootForParameterApply applies to a managed source only: the operator never reboots an existing source",fieldPath=".database.allowRebootForParameterApply"
// +kubebuilder:validation:XValidation:rule="self.database.applicationUsername != self.database.masterUsername",message="database.applicationUsername must differ from database.masterUsername: the cutover fences the application's role, never the master user that replicates",fieldPath=".database.applicationUsername"
type PaymentMigrationSpec struct {
	// EnvironmentSuffix is appended to every AWS name of the migration
	// (for example rds-source-<suffix>) and names the stack TapStack<suffix>.
	// Lowercase letters and digits; at most 21 characters so that the longest
	// derived name (the ALB, 32 characters) fits. Immutable.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=21
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="environmentSuffix is immutable"
	EnvironmentSuffix string `json:"environmentSuffix"`

	// Region is the AWS region of the stack. When omitted, the operator's
	// --default-region flag (AWS_REGION, else us-east-1) is used and pinned in
	// status.region on the first reconcile. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=25
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable"
	Region string `json:"region,omitempty"`

	// Tags are applied to every taggable resource of the stack and to the stack.
	// Environment, MigrationPhase and CostCenter must always be present.
	// +kubebuilder:default={"Environment":"dev","MigrationPhase":"migration","CostCenter":"payments"}
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="['Environment', 'MigrationPhase', 'CostCenter'].all(k, k in self)",message="tags must contain Environment, MigrationPhase and CostCenter"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) >= 1 && size(k) <= 128 && !k.startsWith('aws:') && size(self[k]) <= 256)",message="tag keys must be 1-128 characters without the reserved aws: prefix, values at most 256 characters"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Network NetworkSpec `json:"network"`
	// +kubebuilder:default={}
	// +optional
	Database DatabaseSpec `json:"database"`
	// +kubebuilder:default={}
	// +optional
	Replication ReplicationSpec `json:"replication"`
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage"`
	// +kubebuilder:default={}
	// +optional
	Service ServiceSpec `json:"service"`
	// +kubebuilder:default={}
	// +optional
	Traffic TrafficSpec `json:"traffic"`
	// +kubebuilder:default={}
	// +optional
	Cutover CutoverSpec `json:"cutover"`
	// +optional
	Alerts AlertsSpec `json:"alerts,omitempty"`
	// +optional
	IAM IAMSpec `json:"iam,omitempty"`
	// +kubebuilder:default={}
	// +optional
	SQLRunner SQLRunnerSpec `json:"sqlRunner"`

	// Source is where the payments are today: a source the stack creates
	// (Managed, the default) or an existing one.
	// +kubebuilder:default={type:Managed}
	// +optional
	Source SourceSpec `json:"source"`

	// DeletionPolicy says what deleting the PaymentMigration does to AWS: Delete
	// empties the buckets and deletes the stack (dev/test); Snapshot deletes the
	// stack but keeps a final snapshot of each database and the buckets with
	// their contents (also when an update replaces one); Retain leaves it all.
	// +kubebuilder:default=Delete
	// +kubebuilder:validation:Enum=Delete;Snapshot;Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// DeletionPolicy is what happens to AWS resources when the PaymentMigration goes.
type DeletionPolicy string

const (
	DeletionPolicyDelete DeletionPolicy = "Delete"
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicySnapshot deletes the stack, keeping final RDS snapshots
	// and the buckets.
	DeletionPolicySnapshot DeletionPolicy = "Snapshot"
)

// NATGateways chooses between availability and cost for private egress.
// +kubebuilder:validation:Enum=OnePerAZ;Single
type NATGateways string

const (
	NATGatewaysOnePerAZ NATGateways = "OnePerAZ"
	NATGatewaysSingle   NATGateways = "Single"
)

// NetworkSpec is the VPC: two availability zones, each with a public and a
// private subnet. The range and the zones are immutable: CloudFormation can
// change neither in place, and replacing the VPC or a subnet would move the
// databases out of it.
//
// +kubebuilder:validation:XValidation:rule="has(self.availabilityZones) == has(oldSelf.availabilityZones)",message="network.availabilityZones is immutable: the zones cannot be pinned or unpinned after creation, it would replace the subnets of the databases",fieldPath=".availabilityZones"
type NetworkSpec struct {
	// VPCCIDR is the IPv4 range of the VPC; four /24 subnets are carved from it.
	// Immutable.
	// +kubebuilder:default="10.0.0.0/16"
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() >= 16 && cidr(self).prefixLength() <= 22",message="vpcCIDR must be an IPv4 CIDR with a prefix length between /16 and /22"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="network.vpcCIDR is immutable: a new range replaces the VPC, its subnets and the databases in them"
	// +optional
	VPCCIDR string `json:"vpcCIDR,omitempty"`

	// AvailabilityZones pins the two zones; by default the region's first two.
	// Immutable.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:items:MaxLength=30
	// +kubebuilder:validation:items:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$`
	// +kubebuilder:validation:XValidation:rule="self[0] != self[1]",message="availabilityZones must name two different zones"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="network.availabilityZones is immutable: other zones replace the subnets and the databases in them"
	// +listType=atomic
	// +optional
	AvailabilityZones []string `json:"availabilityZones,omitempty"`

	// NATGateways is OnePerAZ (survives a zone outage) or Single (cheaper).
	// +kubebuilder:default=OnePerAZ
	// +optional
	NATGateways NATGateways `json:"natGateways,omitempty"`
}

// DatabaseSpec applies to both the source and the target RDS PostgreSQL instance.
// Storage is always encrypted and TLS always forced; those are not knobs.
// The database name, the master user and the KMS key are immutable: RDS cannot
// change them in place, CloudFormation would replace both instances.
//
// +kubebuilder:validation:XValidation:rule="has(self.kmsKeyID) == has(oldSelf.kmsKeyID)",message="database.kmsKeyID is immutable: a key cannot be set or removed after creation, it would replace both databases",fieldPath=".kmsKeyID"
type DatabaseSpec struct {
	// EngineVersion is a PostgreSQL 14 version ("14" or "14.x"); the parameter
	// groups are of family postgres14.
	// +kubebuilder:default="14"
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:Pattern=`^14(\.[0-9]{1,2})?$`
	// +optional
	EngineVersion string `json:"engineVersion,omitempty"`

	// InstanceClass of both instances.
	// +kubebuilder:default="db.r5.large"
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^db\.[a-z0-9]+\.[a-z0-9]+$`
	// +optional
	InstanceClass string `json:"instanceClass,omitempty"`

	// AllocatedStorageGiB of each instance (gp3 needs at least 20).
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=20
	// +kubebuilder:validation:Maximum=65536
	// +optional
	AllocatedStorageGiB int32 `json:"allocatedStorageGiB,omitempty"`

	// BackupRetentionDays of automated backups, which also enables point-in-time
	// recovery (hence at least 1).
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=35
	// +optional
	BackupRetentionDays int32 `json:"backupRetentionDays,omitempty"`

	// DatabaseName is the payments database created on both instances.
	// Immutable.
	// +kubebuilder:default="payments"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.databaseName is immutable: a new name replaces both databases"
	// +optional
	DatabaseName string `json:"databaseName,omitempty"`

	// MasterUsername; its password is generated by Secrets Manager. Immutable.
	// +kubebuilder:default="paymentsadmin"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['postgres', 'rdsadmin', 'admin', 'rdsrepladmin'])",message="masterUsername must not be a name reserved by RDS for PostgreSQL"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.masterUsername is immutable: a new master user replaces both databases and regenerates their secrets"
	// +optional
	MasterUsername string `json:"masterUsername,omitempty"`

	// ApplicationUsername is the role the payment service writes as, with its
	// own generated secret. The cutover fences writes on this role only
	// (ALTER ROLE ... SET default_transaction_read_only), which leaves the
	// master user that DMS and the operator use free to replicate and to write
	// the drain watermark. Immutable: the role holds the service's grants.
	// +kubebuilder:default="payments_app"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!(self in ['postgres', 'rdsadmin', 'admin', 'rdsrepladmin', 'public'])",message="applicationUsername must not be a name reserved by RDS for PostgreSQL"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="applicationUsername is immutable"
	// +optional
	ApplicationUsername string `json:"applicationUsername,omitempty"`

	// KMSKeyID encrypts storage with a customer managed key; by default the
	// account's aws/rds key. Immutable.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database.kmsKeyID is immutable: another key replaces both databases"
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`

	// AllowRebootForParameterApply lets the operator reboot the source instance
	// when logical replication is pending a reboot. Off by default: a reboot of a
	// production database is the user's decision.
	// +kubebuilder:default=false
	// +optional
	AllowRebootForParameterApply bool `json:"allowRebootForParameterApply,omitempty"`
}

// MigrationType is the DMS task's migration type.
// +kubebuilder:validation:Enum=full-load-and-cdc;cdc
type MigrationType string

const (
	MigrationTypeFullLoadAndCDC MigrationType = "full-load-and-cdc"
	MigrationTypeCDC            MigrationType = "cdc"
)

// ReplicationSpec is the AWS DMS side: a replication instance and a task that
// copies the payment tables from the source to the target database.
type ReplicationSpec struct {
	// EngineVersion of the DMS replication instance.
	// +kubebuilder:default="3.5.4"
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[0-9]+\.[0-9]+\.[0-9]+$`
	// +optional
	EngineVersion string `json:"engineVersion,omitempty"`

	// InstanceClass of the replication instance.
	// +kubebuilder:default="dms.r5.large"
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^dms\.[a-z0-9]+\.[a-z0-9]+$`
	// +optional
	InstanceClass string `json:"instanceClass,omitempty"`

	// AllocatedStorageGiB of the replication instance.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=6144
	// +optional
	AllocatedStorageGiB int32 `json:"allocatedStorageGiB,omitempty"`

	// MigrationType is full-load-and-cdc (copy, then stream changes) or cdc
	// (the target is already seeded).
	// +kubebuilder:default=full-load-and-cdc
	// +optional
	MigrationType MigrationType `json:"migrationType,omitempty"`

	// Schema holding the payment tables.
	// +kubebuilder:default="public"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	// +optional
	Schema string `json:"schema,omitempty"`

	// Tables to replicate; DMS wildcards (%) are allowed.
	// +kubebuilder:default={"payments","transactions","refunds","payment_%"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9_%]+$`
	// +kubebuilder:validation:XValidation:rule="self.all(t, self.exists_one(u, u == t))",message="tables must not repeat a table"
	// +listType=atomic
	// +optional
	Tables []string `json:"tables,omitempty"`

	// Validation turns on DMS data validation of every replicated row.
	// +kubebuilder:default=true
	// +optional
	Validation *bool `json:"validation,omitempty"`

	// LagThresholdSeconds is the CDC latency above which replication counts as
	// lagging (alarms, cutover gate).
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +optional
	LagThresholdSeconds int32 `json:"lagThresholdSeconds,omitempty"`

	// CreateServiceRoles creates the account-wide dms-vpc-role and
	// dms-cloudwatch-logs-role in the stack. Turn it off in accounts that
	// already have them (two stacks cannot both own them).
	// +kubebuilder:default=true
	// +optional
	CreateServiceRoles *bool `json:"createServiceRoles,omitempty"`

	// Paused stops the replication task (resumable); clearing it resumes it.
	// +kubebuilder:default=false
	// +optional
	Paused bool `json:"paused,omitempty"`

	// LOBMode is how DMS copies large values (text, bytea, json, jsonb, xml,
	// arrays). Limited is fast but truncates every value over lobMaxSizeKiB,
	// so preflight measures the largest value of each such column and refuses
	// to start when one is larger; Full copies any size, more slowly.
	// +kubebuilder:default=Limited
	// +optional
	LOBMode LOBMode `json:"lobMode,omitempty"`

	// LOBMaxSizeKiB is the limit of the Limited LOB mode (DMS's LobMaxSize).
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=102400
	// +optional
	LOBMaxSizeKiB int32 `json:"lobMaxSizeKiB,omitempty"`
}

// LOBMode is DMS's large-object handling.
// +kubebuilder:validation:Enum=Limited;Full
type LOBMode string

const (
	LOBModeLimited LOBMode = "Limited"
	LOBModeFull    LOBMode = "Full"
)

// StorageSpec is the pair of buckets for transaction logs and audit trails.
// Versioning, encryption, the public access block, TLS-only policies and
// source→target replication are always on.
type StorageSpec struct {
	// GlacierTransitionDays moves current and noncurrent object versions to
	// Glacier after this many days.
	// +kubebuilder:default=90
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3650
	// +optional
	GlacierTransitionDays int32 `json:"glacierTransitionDays,omitempty"`
}

// ServiceSpec is the payment service on ECS Fargate behind the ALB. Its
// cross-field rules sit on PaymentMigrationSpec, where defaults are already applied.
type ServiceSpec struct {
	// Image of the payment service container.
	// +kubebuilder:default="nginx:latest"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`
	// +optional
	Image string `json:"image,omitempty"`

	// Port the container listens on; the same port is used by the target group,
	// the ALB listener and every security-group rule, so they cannot disagree.
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// CPU units of a task (Fargate sizes).
	// +kubebuilder:default=256
	// +kubebuilder:validation:Enum=256;512;1024;2048;4096
	// +optional
	CPU int32 `json:"cpu,omitempty"`

	// MemoryMiB of a task; must be valid for CPU on Fargate.
	// +kubebuilder:default=512
	// +kubebuilder:validation:Minimum=512
	// +kubebuilder:validation:Maximum=30720
	// +optional
	MemoryMiB int32 `json:"memoryMiB,omitempty"`

	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	DesiredCount int32 `json:"desiredCount,omitempty"`
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MinCapacity int32 `json:"minCapacity,omitempty"`
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxCapacity int32 `json:"maxCapacity,omitempty"`

	// CPUTargetPercent is the target tracking value for average CPU.
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=95
	// +optional
	CPUTargetPercent int32 `json:"cpuTargetPercent,omitempty"`

	// MemoryTargetPercent is the target tracking value for average memory.
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=95
	// +optional
	MemoryTargetPercent int32 `json:"memoryTargetPercent,omitempty"`

	// HealthCheckPath of the target group health check.
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9._~/%-]*$`
	// +optional
	HealthCheckPath string `json:"healthCheckPath,omitempty"`
}

// TrafficSpec is the Route 53 side: a private hosted zone, a health check on
// the ALB and the weighted records the cutover moves.
type TrafficSpec struct {
	// HostedZoneName of the private hosted zone; must end in .internal.
	// +kubebuilder:default="payments.internal"
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+internal$`
	// +kubebuilder:validation:XValidation:rule="self.endsWith('.internal')",message="hostedZoneName must end in .internal"
	// +optional
	HostedZoneName string `json:"hostedZoneName,omitempty"`

	// RecordName is the label of the weighted records inside the zone
	// (api -> api.payments.internal).
	// +kubebuilder:default="api"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
	// +optional
	RecordName string `json:"recordName,omitempty"`

	// RecordTTLSeconds of the weighted records; the cutover waits at least this
	// long between steps.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	RecordTTLSeconds int32 `json:"recordTTLSeconds,omitempty"`

	// +kubebuilder:default={}
	// +optional
	HealthCheck HealthCheckSpec `json:"healthCheck"`
}

// HealthCheckSpec is the Route 53 HTTP health check against the ALB. It probes
// service.port, the one port of the service.
type HealthCheckSpec struct {
	// Path requested by the health checkers.
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9._~/%-]*$`
	// +optional
	Path string `json:"path,omitempty"`

	// RequestIntervalSeconds: Route 53 accepts 10 (fast) or 30 (standard).
	// +kubebuilder:default=30
	// +kubebuilder:validation:Enum=10;30
	// +optional
	RequestIntervalSeconds int32 `json:"requestIntervalSeconds,omitempty"`

	// FailureThreshold is the number of consecutive failures before Route 53
	// marks the endpoint unhealthy (1-10).
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
}

// Approval says who decides that the cutover may start.
// +kubebuilder:validation:Enum=Manual;Automatic
type Approval string

const (
	ApprovalManual    Approval = "Manual"
	ApprovalAutomatic Approval = "Automatic"
)

// CutoverSpec is the gated, reversible traffic shift from source to target.
type CutoverSpec struct {
	// Approval is Manual (wait for approved: true) or Automatic (start as soon
	// as the gates are green).
	// +kubebuilder:default=Manual
	// +optional
	Approval Approval `json:"approval,omitempty"`

	// Approved starts a Manual cutover. The operator records who set it.
	// +kubebuilder:default=false
	// +optional
	Approved bool `json:"approved,omitempty"`

	// Steps are the target weights in percent, strictly increasing, ending at 100.
	// +kubebuilder:default={10,25,50,100}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=100
	// +kubebuilder:validation:XValidation:rule="self[size(self) - 1] == 100",message="cutover.steps must end at 100"
	// +kubebuilder:validation:XValidation:rule="[1, 2, 3, 4, 5, 6, 7, 8, 9].all(i, i >= size(self) || self[i - 1] < self[i])",message="cutover.steps must be strictly increasing"
	// +listType=atomic
	// +optional
	Steps []int32 `json:"steps,omitempty"`

	// StepIntervalSeconds is the least time between two weight changes; it must
	// be at least the record TTL.
	// +kubebuilder:default=120
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	StepIntervalSeconds int32 `json:"stepIntervalSeconds,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Gates GatesSpec `json:"gates"`

	// AutoRollback sends traffic back to the source when a gate fails before the
	// final flip. Off, the cutover holds where it is and says which gate failed.
	// +kubebuilder:default=true
	// +optional
	AutoRollback *bool `json:"autoRollback,omitempty"`

	// WriterRecordName is the label of the writer record (db -> db.<zone>), the
	// one CNAME through which the payment service reaches its database. It
	// points at the source until the flip and at the target after it: a single
	// record cannot send writes to two databases.
	// +kubebuilder:default="db"
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
	// +optional
	WriterRecordName string `json:"writerRecordName,omitempty"`

	// WriterRecordTTLSeconds of the writer record: how long a resolver may
	// keep sending a new connection to the old database after the flip.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=300
	// +optional
	WriterRecordTTLSeconds int32 `json:"writerRecordTTLSeconds,omitempty"`

	// FreezeTimeoutSeconds bounds the write freeze (fence to flip). When the
	// flip has not happened by then, everything is undone and the migration
	// rolls back to the source.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:validation:Maximum=3600
	// +optional
	FreezeTimeoutSeconds int32 `json:"freezeTimeoutSeconds,omitempty"`

	// FenceGraceSeconds is how long the freeze waits for the application's
	// write transactions that were open when the fence went on, before it
	// ends the application's sessions.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=60
	// +optional
	FenceGraceSeconds *int32 `json:"fenceGraceSeconds,omitempty"`

	// ReversePath keeps a way back after the flip: a CDC task from the target
	// to the source, started at the flip point. Without it, a rollback after
	// the flip is refused.
	// +kubebuilder:default=true
	// +optional
	ReversePath *bool `json:"reversePath,omitempty"`

	// Abort rolls the cutover back: before the flip to the source at once,
	// after it through the reverse path.
	// +kubebuilder:default=false
	// +optional
	Abort bool `json:"abort,omitempty"`
}

// GatesSpec are the conditions that must hold before and during the cutover.
type GatesSpec struct {
	// ConsecutiveLagSamples under the lag threshold required to pass the lag gate.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	ConsecutiveLagSamples int32 `json:"consecutiveLagSamples,omitempty"`

	// RequireValidation requires DMS validation with no failed records.
	// +kubebuilder:default=true
	// +optional
	RequireValidation *bool `json:"requireValidation,omitempty"`

	// RequireTargetHealthy requires the target's Route 53 health check to pass.
	// +kubebuilder:default=true
	// +optional
	RequireTargetHealthy *bool `json:"requireTargetHealthy,omitempty"`

	// MaxSourceTransactionSeconds is the age above which an open write
	// transaction on the source holds the cutover: the fence would wait for
	// it, or end it (RDS Blue/Green's guardrail).
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +optional
	MaxSourceTransactionSeconds int32 `json:"maxSourceTransactionSeconds,omitempty"`
}

// AlertsSpec routes the stack's alarms.
type AlertsSpec struct {
	// Email subscribed to the SNS alarm topic (the owner confirms it by mail).
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	// +optional
	Email string `json:"email,omitempty"`
}

// SQLRunnerMode is how the operator reaches the databases (SPEC 4.3).
// +kubebuilder:validation:Enum=Direct;InVPC
type SQLRunnerMode string

const (
	// SQLRunnerDirect connects from the manager with the secrets' credentials:
	// for a manager inside or peered with the VPC.
	SQLRunnerDirect SQLRunnerMode = "Direct"
	// SQLRunnerInVPC runs each SQL step as a one-off task in the stack's ECS
	// cluster, for a manager that cannot reach the databases.
	SQLRunnerInVPC SQLRunnerMode = "InVPC"
)

// SQLRunnerSpec chooses how the operator runs its SQL on the databases.
type SQLRunnerSpec struct {
	// Mode is Direct (the manager connects to the databases) or InVPC (a
	// one-off ECS task in the stack's private subnets runs the SQL and
	// reports through its exit code and logs; the stack then carries the
	// runner's task definition).
	// +kubebuilder:default=Direct
	// +optional
	Mode SQLRunnerMode `json:"mode,omitempty"`

	// Image of the in-VPC runner's container: it needs psql (PostgreSQL 14
	// or later, to reach the databases) and a POSIX shell with base64 and
	// gunzip.
	// +kubebuilder:default="public.ecr.aws/docker/library/postgres:15-alpine"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`
	// +optional
	Image string `json:"image,omitempty"`
}

// IAMSpec is how the stack's own IAM is bounded. Both fields are optional;
// `tapstack policy` prints the policies that go with them.
type IAMSpec struct {
	// PermissionsBoundaryARN is an IAM managed policy set as the permissions
	// boundary of every IAM role the stack creates, so that no role of the
	// migration can be granted more than the policy allows. Accounts that let
	// the operator create roles only under a boundary (iam:PermissionsBoundary
	// in its policy) need it.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-[a-z]+)*:iam::([0-9]{12}|aws):policy/([!-~]+/)*[A-Za-z0-9+=,.@_-]{1,128}$')",message="iam.permissionsBoundaryARN must be the ARN of an IAM managed policy, arn:<partition>:iam::<account id or aws>:policy/[<path>/]<name>"
	// +optional
	PermissionsBoundaryARN string `json:"permissionsBoundaryARN,omitempty"`

	// StackRoleARN is the CloudFormation service role the stack is created and
	// updated with: CloudFormation then creates the stack's resources with that
	// role's permissions instead of the manager's, and the manager only needs
	// iam:PassRole on it. CloudFormation keeps using the last role a stack was
	// given when the field is removed.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([!-~]+/)*[A-Za-z0-9+=,.@_-]{1,64}$')",message="iam.stackRoleARN must be the ARN of an IAM role, arn:<partition>:iam::<account id>:role/[<path>/]<name>"
	// +optional
	StackRoleARN string `json:"stackRoleARN,omitempty"`
}

// Phase is the one-word summary shown by kubectl; conditions carry the detail.
// +kubebuilder:validation:Enum=Provisioning;Preflight;FullLoad;Replicating;CuttingOver;Completed;RollingBack;RolledBack;Failed;Deleting
type Phase string

const (
	PhaseProvisioning Phase = "Provisioning"
	PhasePreflight    Phase = "Preflight"
	PhaseFullLoad     Phase = "FullLoad"
	PhaseReplicating  Phase = "Replicating"
	PhaseCuttingOver  Phase = "CuttingOver"
	PhaseCompleted    Phase = "Completed"
	PhaseRollingBack  Phase = "RollingBack"
	PhaseRolledBack   Phase = "RolledBack"
	PhaseFailed       Phase = "Failed"
	PhaseDeleting     Phase = "Deleting"
)

// Condition types. Ready summarises the others.
const (
	ConditionReady              = "Ready"
	ConditionStackReady         = "StackReady"
	ConditionPreflightPassed    = "PreflightPassed"
	ConditionReplicationRunning = "ReplicationRunning"
	ConditionLagWithinThreshold = "LagWithinThreshold"
	ConditionDataValidated      = "DataValidated"
	ConditionTargetHealthy      = "TargetHealthy"
	ConditionCutoverComplete    = "CutoverComplete"
	// ConditionCutoverReady is the gates of the cutover, one line each.
	ConditionCutoverReady = "CutoverReady"
	// ConditionSourceReady is the existing source resolved: its objects or
	// identifiers found, synced and readable.
	ConditionSourceReady = "SourceReady"
)

// PaymentMigrationStatus is what the operator observed and did.
type PaymentMigrationStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is for display; decisions are taken from conditions.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Region is the region in effect, pinned on the first reconcile so that a
	// change of the operator's default never moves an existing migration.
	// +optional
	Region string `json:"region,omitempty"`

	// Conditions: Ready, SourceReady (an existing source), StackReady,
	// PreflightPassed, ReplicationRunning, LagWithinThreshold, DataValidated,
	// TargetHealthy, CutoverReady, CutoverComplete.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Source is the existing source as resolved (not set for a managed one).
	// +optional
	Source *SourceStatus `json:"source,omitempty"`
	// +optional
	Stack *StackStatus `json:"stack,omitempty"`
	// +optional
	Replication *ReplicationStatus `json:"replication,omitempty"`
	// +optional
	Traffic *TrafficStatus `json:"traffic,omitempty"`
	// Cutover is the cutover's progress and its intent log.
	// +optional
	Cutover *CutoverStatus `json:"cutover,omitempty"`
	// Deletion is the progress of a deletion: the buckets are emptied in
	// bounded batches, one batch per reconcile, so that a large bucket holds
	// up no other migration.
	// +optional
	Deletion *DeletionStatus `json:"deletion,omitempty"`

	// History lists the latest transitions, oldest first.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	History []HistoryEntry `json:"history,omitempty"`
}

// DeletionStatus is how far the deletion of the stack has come.
type DeletionStatus struct {
	// Buckets are the stack's buckets, in the order they are emptied.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Buckets []BucketDeletion `json:"buckets,omitempty"`
}

// BucketDeletion is the emptying of one versioned bucket.
type BucketDeletion struct {
	// Name of the bucket.
	Name string `json:"name"`
	// VersionsDeleted counts the object versions and delete markers deleted.
	VersionsDeleted int64 `json:"versionsDeleted"`
	// Empty is true once a listing found nothing left.
	Empty bool `json:"empty"`
}

// StackStatus is the CloudFormation stack as last observed.
type StackStatus struct {
	// Name of the stack, TapStack<environmentSuffix>.
	Name string `json:"name"`
	// ID is the stack ARN.
	// +optional
	ID string `json:"id,omitempty"`
	// Status is the CloudFormation stack status, e.g. CREATE_COMPLETE.
	// +optional
	Status string `json:"status,omitempty"`
	// Reason names the first resource that failed and why, from the stack events.
	// +optional
	Reason string `json:"reason,omitempty"`
	// TemplateHash is the content hash of the template last sent.
	// +optional
	TemplateHash string `json:"templateHash,omitempty"`
	// Outputs are all stack outputs by key.
	// +optional
	Outputs map[string]string `json:"outputs,omitempty"`
	// CreateAttempts counts creations of this template; a stack whose creation
	// keeps failing is re-created a bounded number of times.
	// +optional
	CreateAttempts int32 `json:"createAttempts,omitempty"`
}

// ReplicationStatus is the DMS task as last sampled.
type ReplicationStatus struct {
	// TaskARN is the stack's forward DMS task this status describes. When the
	// stack's output names another task, or StackID another stack (re-created
	// out of band), this status and PreflightPassed are reset: they describe a
	// task that is gone.
	// +optional
	TaskARN string `json:"taskARN,omitempty"`
	// StackID is the stack whose task this status describes.
	// +optional
	StackID string `json:"stackID,omitempty"`
	// TaskStatus is the DMS task status, e.g. running.
	// +optional
	TaskStatus string `json:"taskStatus,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	FullLoadPercent int32 `json:"fullLoadPercent,omitempty"`
	// +optional
	TablesLoaded int32 `json:"tablesLoaded,omitempty"`
	// +optional
	TablesLoading int32 `json:"tablesLoading,omitempty"`
	// +optional
	TablesQueued int32 `json:"tablesQueued,omitempty"`
	// +optional
	TablesErrored int32 `json:"tablesErrored,omitempty"`
	// CDCLatencySourceSeconds is the latest CDCLatencySource sample.
	// +optional
	CDCLatencySourceSeconds *int64 `json:"cdcLatencySourceSeconds,omitempty"`
	// CDCLatencyTargetSeconds is the latest CDCLatencyTarget sample.
	// +optional
	CDCLatencyTargetSeconds *int64 `json:"cdcLatencyTargetSeconds,omitempty"`
	// SamplesUnderThreshold counts consecutive lag samples under the threshold.
	// +optional
	SamplesUnderThreshold int32 `json:"samplesUnderThreshold,omitempty"`
	// ValidationState aggregated over the payment tables.
	// +optional
	ValidationState string `json:"validationState,omitempty"`
	// +optional
	ValidationFailedRecords int64 `json:"validationFailedRecords,omitempty"`
	// +optional
	ValidationPendingRecords int64 `json:"validationPendingRecords,omitempty"`
	// +optional
	ValidationSuspendedRecords int64 `json:"validationSuspendedRecords,omitempty"`
	// SampleTime is the time of the newest lag datapoint counted.
	// +optional
	SampleTime *metav1.Time `json:"sampleTime,omitempty"`
	// ValidationSampleTime is when the table statistics were last read.
	// +optional
	ValidationSampleTime *metav1.Time `json:"validationSampleTime,omitempty"`
	// StartedAt is when the operator decided to start StartedTaskARN for the
	// first time; it is written before the task is tagged and started. From
	// then on that task is only ever resumed: starting it again would reload
	// the target.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// StartedTaskARN is the task StartedAt refers to.
	// +optional
	StartedTaskARN string `json:"startedTaskARN,omitempty"`
	// StoppedForStackUpdate is set, before the task is stopped, when a change
	// set modifies the DMS task (DMS modifies only a stopped task). The task
	// stays stopped until the update has ended, then it is resumed.
	// +optional
	StoppedForStackUpdate bool `json:"stoppedForStackUpdate,omitempty"`
	// RebootRequestedAt is when the operator requested a reboot of the source
	// database to apply rds.logical_replication. It is written before the
	// call to RDS, and no other reboot is requested while it stands: until RDS
	// shows the reboot (the source rebooting, or the parameter in-sync) or 10
	// minutes pass.
	// +optional
	RebootRequestedAt *metav1.Time `json:"rebootRequestedAt,omitempty"`
}

// TrafficStatus is the split of traffic between the two environments.
type TrafficStatus struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SourceWeight int32 `json:"sourceWeight"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	TargetWeight int32 `json:"targetWeight"`
	// CurrentStep is the index into spec.cutover.steps last applied, -1 before the first.
	// +optional
	CurrentStep int32 `json:"currentStep"`
	// HealthCheckStatus of the target's Route 53 health check.
	// +optional
	HealthCheckStatus string `json:"healthCheckStatus,omitempty"`
	// LastStepTime is when the weights last changed.
	// +optional
	LastStepTime *metav1.Time `json:"lastStepTime,omitempty"`
}

// CutoverState is where the cutover stands.
// +kubebuilder:validation:Enum=Idle;Approved;Stepping;Freezing;Flipped;Completed;RollingBack;RolledBack;Held
type CutoverState string

// Side names one of the two databases.
// +kubebuilder:validation:Enum=source;target
type Side string

// CutoverStatus is the cutover as the operator last recorded it. The
// operator records each step before and after it acts (the intent log), and
// decides from this record together with what it observes in AWS and the
// databases, so a restart at any point continues where it stopped.
type CutoverStatus struct {
	// State of the cutover.
	State CutoverState `json:"state"`
	// Attempt counts cutover attempts; operation ids carry it.
	// +optional
	Attempt int32 `json:"attempt,omitempty"`
	// Step is the index into the recorded steps last applied, -1 before the first.
	Step int32 `json:"step"`
	// Steps and ReversePath are the spec the attempt started with: a change
	// during the attempt is held, never followed half-way.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	Steps []int32 `json:"steps,omitempty"`
	// +optional
	ReversePath bool `json:"reversePath,omitempty"`
	// Writer is the database the writer record points at, as last observed.
	// +optional
	Writer Side `json:"writer,omitempty"`
	// Fenced lists the databases whose application role is fenced read-only.
	// +kubebuilder:validation:MaxItems=2
	// +listType=atomic
	// +optional
	Fenced []Side `json:"fenced,omitempty"`
	// ApprovedAt and ApprovedBy record the approval of this attempt.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`
	// LastStepTime is when the weights last changed.
	// +optional
	LastStepTime *metav1.Time `json:"lastStepTime,omitempty"`
	// FreezeStartedAt is when the fence was requested; FlippedAt when the
	// writer record reached the other side (INSYNC).
	// +optional
	FreezeStartedAt *metav1.Time `json:"freezeStartedAt,omitempty"`
	// +optional
	FlippedAt *metav1.Time `json:"flippedAt,omitempty"`
	// FreezeMillis is the measured write freeze: fence set to flip in sync.
	// +optional
	FreezeMillis *int64 `json:"freezeMillis,omitempty"`
	// Direction of the freeze in progress: forward (source to target) or
	// reverse (a rollback after the flip).
	// +kubebuilder:validation:Enum=forward;reverse
	// +optional
	Direction string `json:"direction,omitempty"`
	// WatermarkID is the row written to drain replication in this freeze.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	WatermarkID string `json:"watermarkID,omitempty"`
	// ReverseSlotLSN is where the reverse path starts: the consistent point of
	// the logical replication slot created on the target just before the flip.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	ReverseSlotLSN string `json:"reverseSlotLSN,omitempty"`
	// ReverseStartedAt is set before the reverse task's one and only start.
	// +optional
	ReverseStartedAt *metav1.Time `json:"reverseStartedAt,omitempty"`
	// Reason the cutover rolled back or is held, CamelCase; Message says more.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Message string `json:"message,omitempty"`
	// AwaitingReapproval is set by a rollback: the next attempt needs
	// spec.cutover.approved to be seen false, then true again.
	// +optional
	AwaitingReapproval bool `json:"awaitingReapproval,omitempty"`
	// Ledger is what the freeze measured on the databases.
	// +optional
	Ledger *CutoverLedger `json:"ledger,omitempty"`
	// Intents is the intent log of the current attempt, oldest first.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Intents []CutoverIntent `json:"intents,omitempty"`
}

// CutoverIntent is one step of the cutover: written before it acts, and
// completed after.
type CutoverIntent struct {
	// ID is attempt/operation, e.g. 2/fence-source.
	// +kubebuilder:validation:MaxLength=64
	ID      string      `json:"id"`
	Started metav1.Time `json:"started"`
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Note string `json:"note,omitempty"`
}

// CutoverLedger is what the freeze counted.
type CutoverLedger struct {
	// SessionsTerminated: the application's sessions ended by the fence.
	// +optional
	SessionsTerminated int32 `json:"sessionsTerminated,omitempty"`
	// OpenWritesWaited: write transactions the fence waited for.
	// +optional
	OpenWritesWaited int32 `json:"openWritesWaited,omitempty"`
	// DrainMillis: watermark written to watermark seen on the other side.
	// +optional
	DrainMillis *int64 `json:"drainMillis,omitempty"`
	// SequencesSet: sequences moved past the other side's values.
	// +optional
	SequencesSet int32 `json:"sequencesSet,omitempty"`
}

// HistoryEntry is one transition of the migration.
type HistoryEntry struct {
	Time metav1.Time `json:"time"`
	// Actor is who caused it: the operator, or the user who approved.
	// +kubebuilder:validation:MaxLength=256
	Actor string `json:"actor"`
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}

// PaymentMigration migrates the payment workload between two AWS environments
// with zero downtime.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pm,categories=payments
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.cutover) || !(oldSelf.status.cutover.state in ['Approved', 'Stepping', 'Freezing', 'Flipped', 'RollingBack', 'Completed']) || (self.spec.cutover.steps == oldSelf.spec.cutover.steps && self.spec.cutover.reversePath == oldSelf.spec.cutover.reversePath)",message="spec.cutover.steps and spec.cutover.reversePath cannot change while a cutover is in progress or completed (status.cutover.state); abort or wait for it to end",fieldPath=".spec.cutover.steps"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.source) || ((has(self.spec.source.ack) ? (has(oldSelf.spec.source.ack) && self.spec.source.ack == oldSelf.spec.source.ack) : !has(oldSelf.spec.source.ack)) && (has(self.spec.source.aws) ? (has(oldSelf.spec.source.aws) && self.spec.source.aws == oldSelf.spec.source.aws) : !has(oldSelf.spec.source.aws)) && (has(self.spec.source.applicationSecretARN) ? (has(oldSelf.spec.source.applicationSecretARN) && self.spec.source.applicationSecretARN == oldSelf.spec.source.applicationSecretARN) : !has(oldSelf.spec.source.applicationSecretARN)))",message="spec.source.ack, spec.source.aws and spec.source.applicationSecretARN cannot change once the source is resolved (status.source): the stack replicates from it; create a new PaymentMigration to migrate another source",fieldPath=".spec.source"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(oldSelf.status.cutover) || !(oldSelf.status.cutover.state in ['Approved', 'Stepping', 'Freezing', 'Flipped', 'RollingBack']) || self.spec.sqlRunner == oldSelf.spec.sqlRunner",message="spec.sqlRunner cannot change while a cutover is in progress (status.cutover.state): the in-VPC runner's task definition is in the stack, which is not updated until the cutover ends, and the freeze runs as one task or as steps by the runner; abort or wait for it to end",fieldPath=".spec.sqlRunner"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Stack",type=string,JSONPath=`.status.stack.status`
// +kubebuilder:printcolumn:name="Replication",type=string,JSONPath=`.status.replication.taskStatus`
// +kubebuilder:printcolumn:name="Lag",type=integer,JSONPath=`.status.replication.cdcLatencyTargetSeconds`
// +kubebuilder:printcolumn:name="Target%",type=integer,JSONPath=`.status.traffic.targetWeight`
// +kubebuilder:printcolumn:name="Cutover",type=string,JSONPath=`.status.cutover.state`
// +kubebuilder:printcolumn:name="Writer",type=string,JSONPath=`.status.cutover.writer`
// +kubebuilder:printcolumn:name="Gates",type=string,JSONPath=`.status.conditions[?(@.type=="CutoverReady")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Load%",type=integer,JSONPath=`.status.replication.fullLoadPercent`,priority=1,description="DMS full-load progress (kubectl get -o wide)"
type PaymentMigration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PaymentMigrationSpec   `json:"spec"`
	Status PaymentMigrationStatus `json:"status,omitempty"`
}

// PaymentMigrationList is a list of PaymentMigration.
//
// +kubebuilder:object:root=true
type PaymentMigrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PaymentMigration `json:"items"`
}
