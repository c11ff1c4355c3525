package tapstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/route53"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Cutover state in the template. The cutover moves the weights and the writer
// record through the Route 53 API, and a later stack update must not move them
// back (SPEC 4.1). The template therefore takes that state as parameters, which
// the operator fills from status.cutover, so the synthesizer stays a pure
// function of the spec; their defaults are the state before any cutover.
//
//	<writerRecordName>.<zone>   the writer record: one CNAME to the database
//	                            that accepts payment writes. A single record
//	                            cannot point at two databases, so writes never
//	                            reach both, whatever the resolvers cache.

// Template parameters of the cutover state; the controller sets them by these names.
const (
	ParamSourceWeight = "SourceWeight"
	ParamTargetWeight = "TargetWeight"
	ParamWriterSide   = "WriterSide"
)

const (
	idWriterRecord = "WriterRecord"
	// condWriterIsTarget holds once the flip pointed the writer record at the target.
	condWriterIsTarget = "WriterIsTarget"

	// maxRecordWeight is Route 53's upper bound of a weight.
	maxRecordWeight = 255
)

var weightParam = map[naming.Side]string{naming.Source: ParamSourceWeight, naming.Target: ParamTargetWeight}

func (b *builder) cutoverParameters() {
	for _, s := range naming.Sides {
		b.t.Parameters[weightParam[s]] = cloudformation.Parameter{
			Type: "Number",
			Description: ptr(fmt.Sprintf("Weight of the %s record of %s, as the cutover last set it (status.traffic); "+
				"the default is the state before any cutover", s, b.weightedName())),
			Default:               initialWeight(s),
			MinValue:              ptr(0.0),
			MaxValue:              ptr(float64(maxRecordWeight)),
			ConstraintDescription: ptr(fmt.Sprintf("a Route 53 weight, 0 to %d", maxRecordWeight)),
		}
	}
	b.t.Parameters[ParamWriterSide] = cloudformation.Parameter{
		Type: "String",
		Description: ptr(fmt.Sprintf("Database the writer record %s points at, as the cutover last set it (status.cutover.writer); "+
			"source until the flip", b.writerName())),
		Default:       string(naming.Source),
		AllowedValues: []any{string(naming.Source), string(naming.Target)},
	}
	b.t.Conditions[condWriterIsTarget] = equals(ref(ParamWriterSide), string(naming.Target))
}

// writerName is the writer record's absolute name; writerHost is the same name
// as clients and secrets use it, without the trailing dot.
func (b *builder) writerName() string { return b.fqdn(b.spec.Cutover.WriterRecordName) }
func (b *builder) writerHost() string { return strings.TrimSuffix(b.writerName(), ".") }

// writerRecord points at the side WriterSide names. It carries no health check
// and no failover policy on purpose: only the cutover, after fencing and
// draining, may move the writer.
func (b *builder) writerRecord() *route53.RecordSet {
	return &route53.RecordSet{
		HostedZoneId: ptr(ref(idHostedZone)),
		Name:         b.writerName(),
		Type:         "CNAME",
		TTL:          ptr(strconv.Itoa(int(b.spec.Cutover.WriterRecordTTLSeconds))),
		Comment:      ptr("The one database that accepts payment writes: source until the flip, target after it"),
		ResourceRecords: []string{fnIf(condWriterIsTarget,
			b.dbAddress(naming.Target), b.dbAddress(naming.Source))},
	}
}

// parameterWeightedRecordSet is a RecordSet whose Weight is a Ref of a Number
// parameter: goformation types Weight as *int, which cannot carry an intrinsic.
// The embedded RecordSet keeps every other field (and the policy fields the
// aspects set) typed.
type parameterWeightedRecordSet struct {
	route53.RecordSet
	weight string // an encoded intrinsic, expanded by render
}

func (r *parameterWeightedRecordSet) MarshalJSON() ([]byte, error) {
	raw, err := r.RecordSet.MarshalJSON()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var res map[string]any
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("re-read record set: %w", err)
	}
	props, _ := res["Properties"].(map[string]any)
	if props == nil {
		return nil, fmt.Errorf("record set %s has no properties", r.Name)
	}
	props["Weight"] = r.weight
	return json.Marshal(res)
}
