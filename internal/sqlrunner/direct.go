package sqlrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
)

// SecretsAPI is the part of Secrets Manager the direct runner reads.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Direct connects from the manager to the databases with the credentials in
// their secrets: for a manager inside (or peered with) the VPC, and for every
// local run, where the emulator's databases are real PostgreSQL servers.
type Direct struct {
	Secrets SecretsAPI
	// SSLMode is libpq's sslmode: "require" (the default) encrypts without
	// verifying the server; "verify-full" needs the RDS CA in the system pool.
	SSLMode string
	// ConnectTimeout bounds a connection; StatementTimeout every statement.
	ConnectTimeout   time.Duration
	StatementTimeout time.Duration
}

const (
	defaultConnectTimeout   = 10 * time.Second
	defaultStatementTimeout = 60 * time.Second
	applicationName         = "payment-migration-operator"
)

// secret is the JSON of an RDS database secret.
type secret struct {
	Username string          `json:"username"`
	Password string          `json:"password"`
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"` // a number, or a string in hand-made secrets
	DBName   string          `json:"dbname"`
}

// connect opens a session on db. Every session reads names schema-qualified
// (empty search_path) so what it prints compares across databases, and
// carries the statement timeout.
func (d *Direct) connect(ctx context.Context, db Database) (*pgx.Conn, error) {
	cfg, err := d.config(ctx, db)
	if err != nil {
		return nil, err
	}
	timeout := d.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s database %s:%d: %w", db.Side, cfg.Host, cfg.Port, err)
	}
	return conn, nil
}

func (d *Direct) config(ctx context.Context, db Database) (*pgx.ConnConfig, error) {
	if db.SecretARN == "" {
		return nil, fmt.Errorf("%s database: no secret ARN", db.Side)
	}
	out, err := d.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(db.SecretARN)})
	if err != nil {
		return nil, fmt.Errorf("%s database: reading secret %s: %w", db.Side, db.SecretARN, err)
	}
	var s secret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		return nil, fmt.Errorf("%s database: secret %s is not the JSON of a database secret: %w", db.Side, db.SecretARN, err)
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"username", s.Username}, {"password", s.Password}, {"host", s.Host}, {"dbname", s.DBName}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	port, err := s.port()
	if err != nil {
		missing = append(missing, "port ("+err.Error()+")")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s database: secret %s lacks %s (host, port and dbname are written by the secret's RDS attachment)",
			db.Side, db.SecretARN, strings.Join(missing, ", "))
	}
	mode := d.SSLMode
	if mode == "" {
		mode = "require"
	}
	// The host goes through the parser, not in afterwards: the TLS
	// configuration (its server name, and whether TLS applies at all, which
	// it does not to a unix socket) is derived from it. The password is set
	// afterwards so that it never sits in a connection string.
	dsn := url.URL{Scheme: "postgres", User: url.User(s.Username), Host: net.JoinHostPort(s.Host, strconv.Itoa(int(port))),
		Path: "/" + s.DBName, RawQuery: url.Values{"sslmode": {mode}}.Encode()}
	cfg, err := pgx.ParseConfig(dsn.String())
	if err != nil {
		return nil, fmt.Errorf("%s database: connection settings (sslmode %q): %w", db.Side, mode, err)
	}
	cfg.Password = s.Password
	statement := d.StatementTimeout
	if statement <= 0 {
		statement = defaultStatementTimeout
	}
	cfg.RuntimeParams["application_name"] = applicationName
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(statement.Milliseconds(), 10)
	cfg.RuntimeParams["search_path"] = ""
	return cfg, nil
}

func (s secret) port() (uint16, error) {
	var n json.Number
	if err := json.Unmarshal(s.Port, &n); err != nil {
		var str string
		if err2 := json.Unmarshal(s.Port, &str); err2 != nil {
			return 0, errors.New("not a number")
		}
		n = json.Number(str)
	}
	p, err := strconv.ParseUint(n.String(), 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%q is not a TCP port", n)
	}
	return uint16(p), nil
}

// ApplyDDL runs statements in one transaction.
func (d *Direct) ApplyDDL(ctx context.Context, db Database, statements []string) error {
	conn, err := d.connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, stmt := range statements {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s database: %s: %w", db.Side, firstLine(stmt), err)
			}
		}
		return nil
	})
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}
