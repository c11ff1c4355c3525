package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// route53LookupTimeout bounds one read of a record from the Route 53 API.
const route53LookupTimeout = 5 * time.Second

// recordLister is the part of the Route 53 API the resolver reads.
type recordLister interface {
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
}

// route53Resolver resolves a host through the Route 53 API instead of DNS: it
// follows the zone's CNAME records (the writer record the cutover flips) to an
// address, on every new connection. It is for a machine that cannot query the
// zone's DNS (a private zone from outside the VPC, or the AWS emulator), and
// reads what the payment service's resolver would, without DNS caching.
type route53Resolver struct {
	api    recordLister
	zoneID string
	// ports maps an address to the port its server listens on, when that is
	// not the connection's port (the emulator's databases).
	ports map[string]int
	// next resolves a name that is no CNAME of the zone.
	next workload.Resolver
}

func (r route53Resolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	name := host
	for range 8 { // a CNAME chain; 8 is more than any zone needs
		target, ok, err := r.cname(ctx, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		name = target
	}
	addrs := []string{name}
	if net.ParseIP(name) == nil {
		var err error
		if addrs, err = r.next.LookupHost(ctx, name); err != nil {
			return nil, fmt.Errorf("resolving %s (from %s in zone %s): %w", name, host, r.zoneID, err)
		}
	}
	for i, a := range addrs {
		if p, ok := r.ports[a]; ok {
			addrs[i] = net.JoinHostPort(a, strconv.Itoa(p))
		}
	}
	return addrs, nil
}

// cname reads the CNAME record of name in the zone.
func (r route53Resolver) cname(ctx context.Context, name string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, route53LookupTimeout)
	defer cancel()
	fqdn := strings.TrimSuffix(name, ".") + "."
	out, err := r.api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(r.zoneID), StartRecordName: aws.String(fqdn), StartRecordType: r53types.RRTypeCname, MaxItems: aws.Int32(1),
	})
	if err != nil {
		return "", false, fmt.Errorf("reading the CNAME of %s in zone %s: %w", fqdn, r.zoneID, err)
	}
	for _, rr := range out.ResourceRecordSets {
		if strings.EqualFold(aws.ToString(rr.Name), fqdn) && rr.Type == r53types.RRTypeCname && len(rr.ResourceRecords) > 0 {
			return strings.TrimSuffix(aws.ToString(rr.ResourceRecords[0].Value), "."), true, nil
		}
	}
	return "", false, nil
}

// portsFlag is the repeatable -addr-port ADDRESS=PORT flag.
type portsFlag map[string]int

func (p portsFlag) String() string {
	var parts []string
	for a, n := range p {
		parts = append(parts, fmt.Sprintf("%s=%d", a, n))
	}
	return strings.Join(parts, ",")
}

func (p portsFlag) Set(v string) error {
	addr, port, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(port)
	if !ok || addr == "" || err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want ADDRESS=PORT with a port from 1 to 65535, got %q", v)
	}
	p[addr] = n
	return nil
}

// route53Flags choose the Route 53 resolver.
type route53Flags struct {
	zoneID string
	ports  portsFlag
}

func (f *route53Flags) register(fs *commandFlags) {
	f.ports = portsFlag{}
	fs.StringVar(&f.zoneID, "route53-zone", "", "resolve -host through the Route 53 API in hosted zone `ID` (following its CNAMEs, as after a cutover's flip) instead of DNS; "+
		"AWS credentials, region and AWS_ENDPOINT_URL come from the environment")
	fs.Var(f.ports, "addr-port", "`ADDRESS=PORT`: connect to ADDRESS on PORT instead of -port (repeatable; servers on their own ports, as the emulator's)")
}

// apply sets the connection's resolver when -route53-zone is given.
func (f *route53Flags) apply(ctx context.Context, conn *workload.Conn) error {
	if f.zoneID == "" {
		if len(f.ports) > 0 {
			return fmt.Errorf("%w -addr-port: only with -route53-zone", errFlag)
		}
		return nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("%w -route53-zone: loading the AWS configuration: %v", errFlag, err)
	}
	conn.Resolver = route53Resolver{api: route53.NewFromConfig(cfg), zoneID: f.zoneID, ports: f.ports, next: net.DefaultResolver}
	return nil
}
