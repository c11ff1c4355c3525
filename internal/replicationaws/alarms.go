package replicationaws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// AlarmsAPI is the part of CloudWatch the alarm gate reads.
type AlarmsAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Alarms reads the state of a stack's alarms for the cutover's gate.
type Alarms struct{ API AlarmsAPI }

// alarmNamesPerCall is DescribeAlarms' limit on AlarmNames.
const alarmNamesPerCall = 100

// FiringAlarms returns the names among names whose alarm is in ALARM. An
// alarm that does not exist is not firing, but a name list that matches no
// alarm at all is an error: the gate would otherwise pass on nothing.
func (a Alarms) FiringAlarms(ctx context.Context, names []string) ([]string, error) {
	var firing []string
	seen := 0
	for chunk := range slices.Chunk(names, alarmNamesPerCall) {
		var token *string
		for {
			out, err := a.API.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
				AlarmNames: chunk, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}, NextToken: token,
			})
			if err != nil {
				return nil, fmt.Errorf("describing alarms: %w", err)
			}
			for _, al := range out.MetricAlarms {
				seen++
				if al.StateValue == cwtypes.StateValueAlarm {
					firing = append(firing, aws.ToString(al.AlarmName))
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
	}
	if len(names) > 0 && seen == 0 {
		return nil, fmt.Errorf("none of the stack's %d alarms exists", len(names))
	}
	slices.Sort(firing)
	return firing, nil
}
