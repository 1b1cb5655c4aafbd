// Package natsembed runs nats-server as a library, with JetStream on disk,
// for tests and for failforward's embedded mode, so that neither depends on
// a NATS server installed on the machine.
package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStoreLocked reports a store directory that another embedded server
// (in this process or another) is using. nats-server itself does not lock
// its store directory: two servers on one directory both start and then
// overwrite each other's files, so natsembed holds a lock file there.
var ErrStoreLocked = errors.New("store directory is in use by another server")

// ErrStoreDamaged reports a store directory holding a stream that the
// server could not restore. nats-server only logs a warning and starts
// without that stream, and the event store would then create a fresh,
// empty one: history would silently vanish.
var ErrStoreDamaged = errors.New("store directory holds streams the server could not restore")

// LockFile is the name of the lock file natsembed keeps in StoreDir.
const LockFile = "natsembed.lock"

// Config configures an embedded server.
type Config struct {
	// StoreDir is where JetStream keeps its data (in a jetstream
	// subdirectory) and where natsembed keeps its lock file. Required.
	StoreDir string
	// Host is the interface clients connect on; 127.0.0.1 by default, so
	// an embedded server is never reachable from other machines unless
	// asked for.
	Host string
	// Port is the client port. 0 and -1 both pick a free port: nats-server
	// reads 0 as its default 4222, which would collide with a NATS server
	// already running on the machine.
	Port int
	// ServerName names the server in logs and advisories; nats-server
	// generates one when empty.
	ServerName string
	// ReadyTimeout bounds how long Start waits for the server to accept
	// connections; 10s by default.
	ReadyTimeout time.Duration
	// Sync says when JetStream forces writes to disk; SyncAlways, each
	// write before it is acknowledged, by default.
	Sync SyncPolicy
	// Logger receives the server's log lines; nil discards them, so that
	// the server never writes to stdout or stderr by itself.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = -1
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	if c.Sync == "" {
		c.Sync = SyncAlways
	}
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.StoreDir == "" {
		errs = append(errs, errors.New("store dir is required"))
	}
	if c.Port < -1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range (-1 for a free port, or 1-65535)", c.Port))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s is negative", c.ReadyTimeout))
	}
	if c.Sync != "" {
		errs = append(errs, c.Sync.Validate())
	}
	return errors.Join(errs...)
}

// Server is a running embedded nats-server with JetStream enabled.
type Server struct {
	*server.Server
	storeDir string
	lock     *os.File
	once     sync.Once
}

// Start starts a server as cfg says and returns once it accepts
// connections. It fails, rather than starting on a fresh store, when the
// store directory is locked by another server or holds streams the server
// could not restore.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	dir, err := filepath.Abs(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: store dir %s: %w", cfg.StoreDir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: create store dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded nats in %s: %w", dir, err)
	}
	s, err := start(cfg, dir)
	if err != nil {
		_ = unlockDir(lock)
		return nil, fmt.Errorf("embedded nats in %s: %w", dir, err)
	}
	return &Server{Server: s, storeDir: dir, lock: lock}, nil
}

func start(cfg Config, dir string) (*server.Server, error) {
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: cfg.Sync == SyncAlways,
		// The logger below is the only output; an embedding process owns
		// its signals.
		NoLog:  true,
		NoSigs: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure server: %w", err)
	}
	log := &logger{slog: cfg.Logger}
	// Always install a logger, even a silent one: it is how a failure that
	// nats-server only logs (JetStream that cannot start, a stream it
	// skips) reaches Start's error.
	s.SetLoggerV2(log, false, false, false)
	s.Start()
	if err := waitReady(s, log, cfg.ReadyTimeout); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, err
	}
	if err := checkRestored(s, dir, log); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, err
	}
	return s, nil
}

// waitReady polls rather than calling ReadyForConnections once, because a
// server whose JetStream failed to start never listens, and the fatal log
// line is the only sign of it; waiting out the whole timeout would hide the
// cause for seconds.
func waitReady(s *server.Server, log *logger, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if msg := log.fatal(); msg != "" {
			return errors.New(msg)
		}
		if s.ReadyForConnections(25 * time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready for connections after %s", timeout)
		}
	}
	if !s.JetStreamEnabled() {
		if msg := log.fatal(); msg != "" {
			return errors.New(msg)
		}
		return errors.New("jetstream did not start")
	}
	return nil
}

// checkRestored compares the stream directories on disk with the streams
// the server restored. Restoring happens while Start runs, so by the time
// the server accepts connections every stream it could read is loaded.
func checkRestored(s *server.Server, dir string, log *logger) error {
	jsDir := filepath.Join(dir, server.JetStreamStoreDir)
	accounts, err := os.ReadDir(jsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", jsDir, err)
	}
	var missing []string
	for _, acc := range accounts {
		if !acc.IsDir() {
			continue
		}
		streams, err := os.ReadDir(filepath.Join(jsDir, acc.Name(), "streams"))
		if err != nil {
			continue // not an account directory, or an empty account
		}
		var loaded []string
		if detail, err := s.JszAccount(&server.JSzOptions{Account: acc.Name(), Streams: true}); err == nil {
			for _, st := range detail.Streams {
				loaded = append(loaded, st.Name)
			}
		}
		for _, st := range streams {
			// nats-server marks a stream it is deleting with a leading dot
			// and removes it on start.
			if !st.IsDir() || strings.HasPrefix(st.Name(), ".") {
				continue
			}
			if !slices.Contains(loaded, st.Name()) {
				missing = append(missing, acc.Name()+" > "+st.Name())
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err = fmt.Errorf("%w: %s", ErrStoreDamaged, strings.Join(missing, ", "))
	if warnings := log.warnings(); len(warnings) > 0 {
		err = fmt.Errorf("%w (server said: %s)", err, strings.Join(warnings, "; "))
	}
	return err
}

// ClientURL returns the URL clients connect to, for instance
// nats://127.0.0.1:41234. A server listening on every interface is reached
// through loopback.
func (s *Server) ClientURL() string {
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return s.Server.ClientURL()
	}
	host := addr.IP
	if host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "nats://" + net.JoinHostPort(host.String(), strconv.Itoa(addr.Port))
}

// StoreDir returns the absolute store directory the server was started
// with; JetStream's own files are in its jetstream subdirectory.
func (s *Server) StoreDir() string {
	return s.storeDir
}

// Shutdown stops the server, waits until it has stopped and releases the
// store directory. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.Server.Shutdown()
		s.Server.WaitForShutdown()
		_ = unlockDir(s.lock)
	})
}
