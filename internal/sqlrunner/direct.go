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
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SecretsAPI is the part of Secrets Manager the direct runner reads.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Direct connects from the manager to the databases with the credentials in
// their secrets: for a manager inside (or peered with) the VPC, and for every
// local run, where the emulator's databases are real PostgreSQL servers.
//
// The cutover's freeze runs several steps back to back while the payment
// service cannot write, so Direct keeps what is slow to get: secrets for
// SecretTTL, and one idle session per secret for IdleTimeout. It is safe for
// concurrent use; a cached session serves one call at a time. Close releases
// the cached sessions.
type Direct struct {
	Secrets SecretsAPI
	// SSLMode is libpq's sslmode: "require" (the default) encrypts without
	// verifying the server; "verify-full" needs the RDS CA in the system pool.
	SSLMode string
	// ConnectTimeout bounds a connection; StatementTimeout every statement.
	ConnectTimeout   time.Duration
	StatementTimeout time.Duration
	// SecretTTL is how long a secret read is reused (default one minute). A
	// session refused for its password reads the secret again at once, so a
	// rotation does not wait for the TTL.
	SecretTTL time.Duration
	// IdleTimeout is how long a session is kept for the next call (default
	// 30 seconds).
	IdleTimeout time.Duration

	mu      sync.Mutex
	secrets map[string]cachedSecret
	idle    map[string]*idleSession
	closed  bool
}

const (
	defaultConnectTimeout   = 10 * time.Second
	defaultStatementTimeout = 60 * time.Second
	defaultSecretTTL        = time.Minute
	defaultIdleTimeout      = 30 * time.Second
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

// dial opens a new session on db, as the master user, or with appSecretARN
// set, as that secret's user (at db's host, port and dbname). Every session
// reads names schema-qualified (empty search_path) so what it prints compares
// across databases, and carries the statement timeout.
func (d *Direct) dial(ctx context.Context, db Database, appSecretARN string) (*pgx.Conn, error) {
	timeout := d.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	for attempt := 0; ; attempt++ {
		cfg, cached, err := d.connConfig(ctx, db, appSecretARN, attempt > 0)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err := pgx.ConnectConfig(cctx, cfg)
		cancel()
		if err == nil {
			return conn, nil
		}
		// A password refused with a cached secret is most likely a rotation
		// since it was read: read the secret again once rather than fail
		// until the TTL runs out.
		if attempt == 0 && cached && authFailed(err) {
			continue
		}
		who := ""
		if appSecretARN != "" {
			who = " as " + cfg.User
		}
		return nil, fmt.Errorf("%s database %s:%d%s: %w", db.Side, cfg.Host, cfg.Port, who, err)
	}
}

func authFailed(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000")
}

// config is the master user's connection to db.
func (d *Direct) config(ctx context.Context, db Database) (*pgx.ConnConfig, error) {
	cfg, _, err := d.connConfig(ctx, db, "", false)
	return cfg, err
}

// connConfig builds the connection settings; cached says whether any secret
// came from the cache rather than from Secrets Manager just now.
func (d *Direct) connConfig(ctx context.Context, db Database, appSecretARN string, fresh bool) (*pgx.ConnConfig, bool, error) {
	if db.SecretARN == "" {
		return nil, false, fmt.Errorf("%s database: no secret ARN", db.Side)
	}
	s, cached, err := d.secret(ctx, db.Side, db.SecretARN, fresh)
	if err != nil {
		return nil, false, err
	}
	if db.Host != "" {
		s.Host, s.Port, s.DBName = db.Host, json.RawMessage(strconv.Itoa(db.Port)), db.DBName
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
		return nil, false, fmt.Errorf("%s database: secret %s lacks %s (host, port and dbname are written by the secret's RDS attachment)",
			db.Side, db.SecretARN, strings.Join(missing, ", "))
	}
	user, password := s.Username, s.Password
	if appSecretARN != "" {
		app, appCached, err := d.credentials(ctx, db.Side, appSecretARN, fresh)
		if err != nil {
			return nil, false, err
		}
		user, password, cached = app.Username, app.Password, cached || appCached
	}
	mode := d.SSLMode
	if mode == "" {
		mode = "require"
	}
	// The host goes through the parser, not in afterwards: the TLS
	// configuration (its server name, and whether TLS applies at all, which
	// it does not to a unix socket) is derived from it. The password is set
	// afterwards so that it never sits in a connection string.
	dsn := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort(s.Host, strconv.Itoa(int(port))),
		Path: "/" + s.DBName, RawQuery: url.Values{"sslmode": {mode}}.Encode()}
	cfg, err := pgx.ParseConfig(dsn.String())
	if err != nil {
		return nil, false, fmt.Errorf("%s database: connection settings (sslmode %q): %w", db.Side, mode, err)
	}
	cfg.Password = password
	statement := d.StatementTimeout
	if statement <= 0 {
		statement = defaultStatementTimeout
	}
	cfg.RuntimeParams["application_name"] = applicationName
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(statement.Milliseconds(), 10)
	cfg.RuntimeParams["search_path"] = ""
	// One round trip per statement. pgx's default prepares each statement
	// the first time a session sees it, a second round trip, and most of the
	// freeze's statements run once; the polls ask to be prepared.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	return cfg, cached, nil
}

// credentials reads an application secret: only its username and password
// are used (its host is the writer record, which the cutover moves).
func (d *Direct) credentials(ctx context.Context, side, arn string, fresh bool) (secret, bool, error) {
	s, cached, err := d.secret(ctx, side, arn, fresh)
	if err != nil {
		return s, false, err
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"username", s.Username}, {"password", s.Password}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return s, false, fmt.Errorf("%s database: application secret %s lacks %s", side, arn, strings.Join(missing, ", "))
	}
	return s, cached, nil
}

type cachedSecret struct {
	value secret
	read  time.Time
}

// secret reads a secret, from the cache unless fresh or expired.
func (d *Direct) secret(ctx context.Context, side, arn string, fresh bool) (secret, bool, error) {
	ttl := d.SecretTTL
	if ttl <= 0 {
		ttl = defaultSecretTTL
	}
	if !fresh {
		d.mu.Lock()
		c, ok := d.secrets[arn]
		d.mu.Unlock()
		if ok && time.Since(c.read) < ttl {
			return c.value, true, nil
		}
	}
	out, err := d.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return secret{}, false, fmt.Errorf("%s database: reading secret %s: %w", side, arn, err)
	}
	var s secret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		return secret{}, false, fmt.Errorf("%s database: secret %s is not the JSON of a database secret: %w", side, arn, err)
	}
	d.mu.Lock()
	if d.secrets == nil {
		d.secrets = map[string]cachedSecret{}
	}
	d.secrets[arn] = cachedSecret{value: s, read: time.Now()}
	d.mu.Unlock()
	return s, false, nil
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

// ApplyDDL runs statements in one transaction. It uses a session of its own,
// closed afterwards: the statements are the caller's, and one that changes a
// session setting must not leak into the cached session the next step uses.
func (d *Direct) ApplyDDL(ctx context.Context, db Database, statements []string) error {
	conn, err := d.dial(ctx, db, "")
	if err != nil {
		return err
	}
	defer closeConn(conn)
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
