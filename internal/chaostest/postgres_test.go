//go:build linux

package chaostest

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the Postgres driver, for the test's own connections
)

// postgresBin returns where the server programs are: POSTGRES_BIN, or
// the newest of Debian's /usr/lib/postgresql/<version>/bin.
func postgresBin() (string, error) {
	if dir := os.Getenv("POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(dirs) == 0 {
		return "", errors.New("no /usr/lib/postgresql/<version>/bin/pg_ctl, and POSTGRES_BIN is not set")
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(pgVersion(a), pgVersion(b)) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// pgVersion reads the major version out of a Debian server path.
func pgVersion(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// postgres is a Postgres server of the test's own, in a temporary
// directory on a free port, so that the test can stop and start it.
type postgres struct {
	bin  string // the server programs
	dir  string // owned by the server's user: data, socket and log
	port int
	// runAs prefixes each server command: Postgres refuses to run as
	// root, so a root test runs them as the postgres user.
	runAs []string
}

// startPostgres creates a database cluster and starts it. Without the
// server programs (see postgresBin) the test is skipped, except in CI (CI=true), where
// that is a failure.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bin, err := postgresBin()
	if err == nil {
		_, err = os.Stat(filepath.Join(bin, "pg_ctl"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Postgres server programs missing: %v; CI must run the chaos test", err)
		}
		t.Skipf("Postgres server programs missing (%v); skipping", err)
	}
	// Not t.TempDir: its parents are private to the test's user, and the
	// server's user must reach its directory.
	dir, err := os.MkdirTemp("", "chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg := &postgres{bin: bin, dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		pg.runAs = []string{"runuser", "-u", "postgres", "--"}
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pg.run(t, "initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	pg.start(t)
	t.Cleanup(func() {
		// Immediate: the data is thrown away with the directory. A server
		// that a failed restart left stopped has nothing to stop.
		pg.command("pg_ctl", "-D", pg.data(), "-w", "stop", "-m", "immediate").Run()
	})
	return pg
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

// run runs one of the server's programs as the server's user, and fails
// the test with its output if it fails.
func (pg *postgres) run(t *testing.T, program string, args ...string) {
	t.Helper()
	if out, err := pg.command(program, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", program, args, err, out, log)
	}
}

func (pg *postgres) command(program string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, pg.runAs...), filepath.Join(pg.bin, program)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

func (pg *postgres) pgCtl(t *testing.T, args ...string) {
	t.Helper()
	pg.run(t, "pg_ctl", append([]string{"-D", pg.data(), "-w", "-t", "60"}, args...)...)
}

// start starts the server and waits until it accepts connections, on
// loopback TCP only; its socket lives in its own directory.
func (pg *postgres) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", pg.port, pg.dir)
	pg.pgCtl(t, "-l", filepath.Join(pg.dir, "log"), "-o", opts, "start")
}

// stop stops the server as an operator does before a restart: "fast"
// rolls back open transactions and cuts every session.
func (pg *postgres) stop(t *testing.T) {
	t.Helper()
	pg.pgCtl(t, "stop", "-m", "fast")
}

// url is the address of one of the server's databases.
func (pg *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

// createDatabase creates a database and returns its address.
func (pg *postgres) createDatabase(t *testing.T, name string) string {
	t.Helper()
	admin, err := sqlx.Open("postgres", pg.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return pg.url(name)
}
