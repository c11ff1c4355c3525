// Package emulator starts the project's AWS emulator (moto with the TapStack
// extensions under hack/emulator) for end-to-end tests.
//
// The server listens on a free 127.0.0.1 port and lives exactly as long as the
// Emulator: Close stops its whole process group, and the server also stops on
// its own when this process dies (it watches its stdin). Nothing global is
// set; Env returns the variables an AWS SDK or the AWS CLI needs.
package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Region is the region the emulator's clients use unless told otherwise.
const Region = "us-east-1"

// ReadyTimeout bounds how long Start waits for the server to answer.
const ReadyTimeout = 60 * time.Second

const readyPrefix = "tapstack-emulator ready "

// Emulator is a running emulator process.
type Emulator struct {
	endpoint string
	logPath  string
	pgRoot   string
	startup  time.Duration

	cmd       *exec.Cmd
	stdin     io.WriteCloser
	exited    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start launches hack/emulator/serve.py with python3 (or $TAPSTACK_EMULATOR_PYTHON)
// and returns once the server answers requests. The server's log goes to a
// file, see LogPath.
func Start(ctx context.Context) (*Emulator, error) {
	began := time.Now()
	python := os.Getenv("TAPSTACK_EMULATOR_PYTHON")
	if python == "" {
		python = "python3"
	}
	pythonPath, err := exec.LookPath(python)
	if err != nil {
		return nil, fmt.Errorf("emulator: %s not found (moto must be installed for it): %w", python, err)
	}
	serve, err := servePath()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "tapstack-emulator-*.log")
	if err != nil {
		return nil, fmt.Errorf("emulator: log file: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	// The database servers' directories live here; Close removes it even when
	// the server could not clean up (killed).
	pgRoot, err := os.MkdirTemp("", "tapstack-pg-*")
	if err != nil {
		return nil, fmt.Errorf("emulator: database root: %w", err)
	}

	// Not CommandContext: the context bounds start-up, Close ends the process.
	cmd := exec.Command(pythonPath, serve, "--port", "0", "--exit-on-stdin-eof")
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "TAPSTACK_PG_ROOT="+pgRoot)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(pgRoot)
		return nil, fmt.Errorf("emulator: start %s: %w", serve, err)
	}
	e := &Emulator{logPath: logFile.Name(), pgRoot: pgRoot, cmd: cmd, stdin: stdin, exited: make(chan struct{})}

	ready := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if url, ok := strings.CutPrefix(scanner.Text(), readyPrefix); ok {
				ready <- strings.TrimSpace(url)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(e.exited)
	}()

	timeout := time.NewTimer(ReadyTimeout)
	defer timeout.Stop()
	select {
	case e.endpoint = <-ready:
		e.startup = time.Since(began)
		return e, nil
	case <-e.exited:
		err = fmt.Errorf("emulator: server exited before it was ready (%s)", cmd.ProcessState)
	case <-timeout.C:
		err = fmt.Errorf("emulator: not ready after %s", ReadyTimeout)
	case <-ctx.Done():
		err = fmt.Errorf("emulator: %w", ctx.Err())
	}
	_ = e.Close()
	return nil, fmt.Errorf("%w; log %s:\n%s", err, e.logPath, e.LogTail(40))
}

// servePath finds hack/emulator/serve.py relative to this source file, so it
// works from any package directory of the module.
func servePath() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("emulator: cannot locate the package source")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "hack", "emulator", "serve.py")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("emulator: %w", err)
	}
	return path, nil
}

// Endpoint is the emulator's URL, e.g. http://127.0.0.1:41234.
func (e *Emulator) Endpoint() string { return e.endpoint }

// StartupTime is how long Start took until the server answered.
func (e *Emulator) StartupTime() time.Duration { return e.startup }

// LogPath is the file holding the server's log.
func (e *Emulator) LogPath() string { return e.logPath }

// Pid is the server's process id (also its process group id).
func (e *Emulator) Pid() int { return e.cmd.Process.Pid }

// Env returns the environment an AWS SDK or the AWS CLI needs to use the
// emulator, isolated from any real AWS configuration on the machine. Drop
// other AWS_* variables (a profile, a session token) from the environment
// these are added to, as CLI does.
func (e *Emulator) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + e.endpoint,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// CLI runs the AWS CLI against the emulator and returns its JSON output.
func (e *Emulator) CLI(ctx context.Context, args ...string) ([]byte, error) {
	// --endpoint-url as well: the CLI ignores AWS_ENDPOINT_URL for some services (rds).
	cmd := exec.CommandContext(ctx, "aws", append(args, "--endpoint-url", e.endpoint, "--output", "json")...)
	cmd.Env = append(withoutAWS(os.Environ()), e.Env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func withoutAWS(env []string) []string {
	kept := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// Control calls the emulator's control API (/_tapstack/<path>), for state
// that AWS decides and no AWS API sets. out may be nil.
func (e *Emulator) Control(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.endpoint+"/_tapstack/"+path, body)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator control %s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// LogTail returns the last n lines of the server log.
func (e *Emulator) LogTail(n int) string {
	data, err := os.ReadFile(e.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DatabaseRoot is the directory under which the emulator's PostgreSQL servers
// keep their data directories.
func (e *Emulator) DatabaseRoot() string { return e.pgRoot }

// Close stops the server and everything it started (the PostgreSQL servers
// run in its process group), waits for it and removes the database root.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		defer func() {
			// Anything of the group left behind (a database server whose
			// parent was killed) goes too, then its files.
			signalGroup(e.cmd.Process.Pid, true)
			_ = os.RemoveAll(e.pgRoot)
		}()
		_ = e.stdin.Close()
		// Stdin EOF makes the server stop its databases and exit on its own.
		select {
		case <-e.exited:
			return
		case <-time.After(3 * time.Second):
		}
		signalGroup(e.cmd.Process.Pid, false)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			signalGroup(e.cmd.Process.Pid, true)
			select {
			case <-e.exited:
			case <-time.After(5 * time.Second):
				e.closeErr = fmt.Errorf("emulator: process %d did not exit", e.cmd.Process.Pid)
			}
		}
	})
	return e.closeErr
}
