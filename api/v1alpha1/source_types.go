package v1alpha1

// SourceType is how the source database, bucket and service are given.
// +kubebuilder:validation:Enum=Managed;ACK;AWS
type SourceType string

const (
	// SourceManaged: the stack creates an empty source database and bucket.
	SourceManaged SourceType = "Managed"
	// SourceACK: the source is an existing RDS instance and S3 bucket, given by
	// the ACK (AWS Controllers for Kubernetes) objects that manage them.
	SourceACK SourceType = "ACK"
	// SourceAWS: the source is an existing RDS instance and S3 bucket, given by
	// their AWS identifiers.
	SourceAWS SourceType = "AWS"
)

// SourceSpec says where the payments are today. With an existing source
// (ACK or AWS) the stack creates neither the source database nor its
// parameter group, secret or bucket: it takes them as parameters, adds an
// ingress rule to the source's security group for DMS and the service, and
// never deletes or modifies them (whatever the deletion policy).
//
// +kubebuilder:validation:XValidation:rule="self.type == 'ACK' ? has(self.ack) : !has(self.ack)",message="source.ack is required when source.type is ACK, and only then",fieldPath=".ack"
// +kubebuilder:validation:XValidation:rule="self.type == 'AWS' ? has(self.aws) : !has(self.aws)",message="source.aws is required when source.type is AWS, and only then",fieldPath=".aws"
// +kubebuilder:validation:XValidation:rule="self.type == 'Managed' ? !has(self.applicationSecretARN) : has(self.applicationSecretARN)",message="source.applicationSecretARN is required with an existing source (the cutover fences the role the current service writes as), and not allowed with a managed one",fieldPath=".applicationSecretARN"
// +kubebuilder:validation:XValidation:rule="self.type != 'Managed' || !has(self.port)",message="source.port is the port of an existing source; a managed one listens on 5432",fieldPath=".port"
// +kubebuilder:validation:XValidation:rule="self.type != 'Managed' || !has(self.loadBalancer)",message="source.loadBalancer names the current service of an existing source; a managed source has none",fieldPath=".loadBalancer"
type SourceSpec struct {
	// Type is Managed (the stack creates the source), ACK or AWS (the source
	// exists). Immutable: a migration cannot change what it migrates from.
	// +kubebuilder:default=Managed
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="source.type is immutable: a migration cannot switch between a managed and an existing source; create a new PaymentMigration"
	// +optional
	Type SourceType `json:"type,omitempty"`

	// ACK references the ACK objects of the existing source.
	// +optional
	ACK *ACKSource `json:"ack,omitempty"`

	// AWS identifies the existing source by its AWS identifiers.
	// +optional
	AWS *AWSSource `json:"aws,omitempty"`

	// ApplicationSecretARN is the Secrets Manager secret (JSON with username
	// and password) of the database role the current service writes as. The
	// cutover fences that role on the source; the stack's service uses the
	// same secret, and the operator creates the role with it on the target.
	// The role must exist on the source; the operator never changes it there.
	// Every writer of the source must use this role, or the fence does not
	// stop it.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$')",message="source.applicationSecretARN must be a Secrets Manager secret ARN, arn:<partition>:secretsmanager:<region>:<account id>:secret:<name>"
	// +optional
	ApplicationSecretARN string `json:"applicationSecretARN,omitempty"`

	// LoadBalancer is the current service's load balancer: the "source" side
	// of the weighted record aliases it. Without it both sides alias the
	// stack's ALB.
	// +optional
	LoadBalancer *LoadBalancerReference `json:"loadBalancer,omitempty"`

	// Port the existing source listens on (default 5432); the operator
	// checks it against the instance. The target is created on the same
	// port, since the service follows the writer record between the two
	// databases by name and keeps one port.
	// +kubebuilder:validation:Minimum=1150
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
}

// DefaultPort is PostgreSQL's, the port of a managed source and the default
// of an existing one.
const DefaultPort = 5432

// DatabasePort is the port both databases listen on.
func (s SourceSpec) DatabasePort() int {
	if s.Existing() && s.Port != 0 {
		return int(s.Port)
	}
	return DefaultPort
}

// ACKSource references ACK objects by name. A namespace other than the
// migration's must grant it: the referenced object carries the annotation
// payments.tapstack.io/allowed-migration-namespaces listing the migration's
// namespace (comma-separated), so that nobody migrates another team's
// database by naming it.
type ACKSource struct {
	// DBInstance is an rds.services.k8s.aws/v1alpha1 DBInstance. Its status
	// gives the ARN, endpoint, port, master-user secret and security groups.
	DBInstance ACKReference `json:"dbInstance"`

	// DBParameterGroup is the rds.services.k8s.aws/v1alpha1 DBParameterGroup
	// of the instance, read to report whether it turns on
	// rds.logical_replication (the preflight checks the database itself).
	// +optional
	DBParameterGroup *ACKReference `json:"dbParameterGroup,omitempty"`

	// Bucket is an s3.services.k8s.aws/v1alpha1 Bucket.
	Bucket ACKReference `json:"bucket"`

	// MasterSecretARN is the Secrets Manager secret of the master user when
	// the DBInstance does not have RDS manage it (status.masterUserSecret).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$')",message="source.ack.masterSecretARN must be a Secrets Manager secret ARN"
	// +optional
	MasterSecretARN string `json:"masterSecretARN,omitempty"`

	// SecurityGroupID is the security group of the instance that the stack
	// opens to DMS and the service; by default the first of its
	// status.vpcSecurityGroups.
	// +kubebuilder:validation:Pattern=`^sg-[0-9a-f]{8,17}$`
	// +optional
	SecurityGroupID string `json:"securityGroupID,omitempty"`
}

// ACKReference names an ACK object.
type ACKReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// Namespace defaults to the migration's.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// AWSSource identifies an existing source by its AWS identifiers, in the
// migration's region.
type AWSSource struct {
	// DBInstanceIdentifier of the RDS for PostgreSQL instance.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$`
	DBInstanceIdentifier string `json:"dbInstanceIdentifier"`

	// MasterSecretARN is the Secrets Manager secret of the master user
	// (username and password; the RDS-managed secret will do).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$')",message="source.aws.masterSecretARN must be a Secrets Manager secret ARN"
	MasterSecretARN string `json:"masterSecretARN"`

	// SecurityGroupID is one of the instance's security groups, which the
	// stack opens to DMS and the service.
	// +kubebuilder:validation:Pattern=`^sg-[0-9a-f]{8,17}$`
	SecurityGroupID string `json:"securityGroupID"`

	// BucketName of the source's S3 bucket.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	BucketName string `json:"bucketName"`
}

// LoadBalancerReference is a load balancer as a Route 53 alias target.
type LoadBalancerReference struct {
	// DNSName of the load balancer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)+\.?$`
	DNSName string `json:"dnsName"`
	// CanonicalHostedZoneID of the load balancer (its region's ELB zone, for
	// example Z35SXDOTRQ7X7K for an ALB in us-east-1).
	// +kubebuilder:validation:Pattern=`^Z[A-Z0-9]{1,31}$`
	CanonicalHostedZoneID string `json:"canonicalHostedZoneID"`
}

// SourceStatus is the existing source as the operator resolved it.
type SourceStatus struct {
	// Type the migration was created with; a spec that differs is refused.
	Type SourceType `json:"type"`
	// +optional
	DBInstanceARN string `json:"dbInstanceARN,omitempty"`
	// +optional
	DBInstanceIdentifier string `json:"dbInstanceIdentifier,omitempty"`
	// Endpoint is host:port.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// +optional
	MasterSecretARN string `json:"masterSecretARN,omitempty"`
	// +optional
	SecurityGroupID string `json:"securityGroupID,omitempty"`
	// +optional
	BucketName string `json:"bucketName,omitempty"`
	// +optional
	ParameterGroup string `json:"parameterGroup,omitempty"`
}

// Existing reports whether the source is given rather than created.
func (s SourceSpec) Existing() bool { return s.Type == SourceACK || s.Type == SourceAWS }
