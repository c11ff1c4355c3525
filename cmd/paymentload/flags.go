package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// errFlag marks an invalid flag; the message names the flag.
var errFlag = errors.New("invalid flag")

// errHelp is -h: the flags were printed, nothing else to do.
var errHelp = errors.New("help shown")

// commandFlags is a command's flag set. Errors go to the caller instead of
// being printed (so they are printed once, with the flag named); -h prints
// the command's help to stdout.
type commandFlags struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

func newFlagSet(name, synopsis string, stdout io.Writer) *commandFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error; help is printed on -h only
	return &commandFlags{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

// parse parses args; errHelp after -h, an errFlag error naming the flag
// otherwise.
func (fs *commandFlags) parse(args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(fs.stdout, "Usage: paymentload %s\n\n", fs.synopsis)
		fs.SetOutput(fs.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return errHelp
	case err != nil:
		return fmt.Errorf("%w: %s: %v (see paymentload %s -h)", errFlag, fs.Name(), err, fs.Name())
	case fs.NArg() > 0:
		return fmt.Errorf("%w: %s: unexpected argument %q (see paymentload %s -h)", errFlag, fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

// flagError turns a settings error of the library into one naming the flag.
func flagError(err error) error {
	var fe *workload.FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w -%s: %s", errFlag, fe.Name, fe.Msg)
	}
	return err
}

// connFlags are the flags every command reaches the database with.
type connFlags struct {
	conn         workload.Conn
	passwordFile string
}

func (c *connFlags) register(fs *commandFlags) {
	fs.StringVar(&c.conn.Host, "host", "localhost", "database host `name`, resolved on every new connection (the writer record, e.g. db.<zone>)")
	fs.IntVar(&c.conn.Port, "port", 5432, "database `port` (a resolved address carrying a port overrides it)")
	fs.StringVar(&c.conn.User, "user", "", "database `role` (run: the application's own role, the one the cutover fences)")
	fs.StringVar(&c.conn.Password, "password", "", "`password` (visible to ps: prefer -password-file or PGPASSWORD)")
	fs.StringVar(&c.passwordFile, "password-file", "", "read the password from `FILE` (first line)")
	fs.StringVar(&c.conn.Database, "dbname", "payments", "database `name`")
	fs.StringVar(&c.conn.SSLMode, "sslmode", "require", "TLS `mode`: "+strings.Join(workload.SSLModes, ", ")+" (prefer or disable for local servers)")
	fs.DurationVar(&c.conn.ConnectTimeout, "connect-timeout", 5*time.Second, "bound on establishing one connection")
}

// resolve settles the password: -password, else -password-file, else
// PGPASSWORD; and validates the connection flags.
func (c *connFlags) resolve(fs *commandFlags, getenv func(string) string) (workload.Conn, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["password"] && set["password-file"]:
		return workload.Conn{}, fmt.Errorf("%w: -password and -password-file are exclusive", errFlag)
	case set["password-file"]:
		data, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return workload.Conn{}, fmt.Errorf("%w -password-file: %v", errFlag, err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		c.conn.Password = strings.TrimRight(line, "\r")
	case !set["password"]:
		c.conn.Password = getenv("PGPASSWORD")
	}
	if err := c.conn.Validate(); err != nil {
		return workload.Conn{}, flagError(err)
	}
	return c.conn, nil
}

// writeLedger writes a ledger to path through a temporary file, so a reader
// never sees half a ledger.
func writeLedger(path string, l *workload.Ledger) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	if _, err := l.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write keys to %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write keys to %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	return nil
}

// readLedgers reads and merges ledger files.
func readLedgers(paths []string) (*workload.Ledger, error) {
	all := workload.NewLedger()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read keys: %w", err)
		}
		l, err := workload.ReadLedger(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read keys %s: %w", p, err)
		}
		all.Merge(l)
	}
	return all, nil
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty file name")
	}
	*s = append(*s, v)
	return nil
}
