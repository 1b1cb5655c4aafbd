// Package deploy_test checks the deployment files on reading, since no
// container engine runs where the tests do.
package deploy_test

import (
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Volumes []string `yaml:"volumes"`
		Ports   []string `yaml:"ports"`
		Restart string   `yaml:"restart"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func TestComposeFile(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"nats-1", "nats-2", "nats-3", "postgres", "projector", "projector-2", "api", "api-2"} {
		svc, ok := c.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0 {
			t.Errorf("%s has no health check", name)
		}
		for dep := range svc.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range svc.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat("../" + src); err != nil {
					t.Errorf("%s mounts %s, which is not in the repository", name, src)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s mounts undeclared volume %s", name, src)
			}
		}
	}
	// JetStream atomic batches need 2.12 or newer.
	for _, name := range natsNodes {
		image := c.Services[name].Image
		m := regexp.MustCompile(`^nats:2\.(\d+)`).FindStringSubmatch(image)
		if m == nil {
			t.Fatalf("%s image %q is not nats:2.x", name, image)
		}
		if minor, _ := strconv.Atoi(m[1]); minor < 12 {
			t.Errorf("%s image %s is older than 2.12", name, image)
		}
	}
	for _, name := range []string{"api", "api-2", "projector", "projector-2"} {
		env := c.Services[name].Environment
		if !strings.HasPrefix(env["NATS_URL"], "nats://") || !strings.HasPrefix(env["DATABASE_URL"], "postgres://") {
			t.Errorf("%s is not configured for NATS and Postgres: %v", name, env)
		}
		if c.Services[name].Build == nil {
			t.Errorf("%s is not built from the repository's Dockerfile", name)
		}
	}
	if _, err := os.Stat("../Dockerfile"); err != nil {
		t.Error(err)
	}
}

// TestComposeAPIIsReachable checks what lets a person open the product
// that docker compose starts: the api listens on every interface of its
// container, on the port published to the host's 8080, and it has an
// AUTH_FILE on a volume with the first-start token bootstrap on.
func TestComposeAPIIsReachable(t *testing.T) {
	c := readCompose(t)
	api := c.Services["api"]
	host, port, ok := strings.Cut(api.Environment["ADDR"], ":")
	if !ok || host != "0.0.0.0" {
		t.Errorf("api ADDR %q: want 0.0.0.0:<port>, reachable from outside its container", api.Environment["ADDR"])
	}
	published := false
	for _, p := range api.Ports {
		parts := strings.Split(p, ":")
		published = published || (len(parts) >= 2 && parts[len(parts)-1] == port && parts[len(parts)-2] == "8080")
	}
	if !published {
		t.Errorf("api ports %v: want the container's port %s published as the host's 8080", api.Ports, port)
	}
	if api.Environment["AUTH_BOOTSTRAP"] != "true" {
		t.Errorf("api AUTH_BOOTSTRAP = %q, want true, so that a first start prints a token", api.Environment["AUTH_BOOTSTRAP"])
	}
	file := api.Environment["AUTH_FILE"]
	if !strings.HasPrefix(file, "/") {
		t.Fatalf("api AUTH_FILE %q: want an absolute path in the container", file)
	}
	dir := path.Dir(file)
	onVolume := false
	for _, v := range api.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst, _, _ = strings.Cut(dst, ":")
		if _, named := c.Volumes[src]; named && dst == dir {
			onVolume = true
		}
	}
	if !onVolume {
		t.Errorf("api volumes %v: want a named volume at %s, so that the tokens outlive the container", api.Volumes, dir)
	}
	// A named volume takes its owner from the image's directory: the
	// image must make it, owned by the user the api runs as.
	docker, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`COPY --from=build --chown=65532:65532 \S+ ` + regexp.QuoteMeta(dir) + `\n`).Match(docker) {
		t.Errorf("the Dockerfile does not make %s owned by the nonroot user", dir)
	}
}

// natsNodes are the services of the NATS cluster.
var natsNodes = []string{"nats-1", "nats-2", "nats-3"}

// TestComposeCluster checks the production topology: three NATS nodes in
// one cluster, each with JetStream on a volume of its own and routes to
// the others (deploy/nats-cluster.conf), clients that know every node and
// keep the stream at three replicas, two projectors (one active, one
// standby, by the read store's lease) and two apis of which only one
// creates the first token.
func TestComposeCluster(t *testing.T) {
	c := readCompose(t)
	conf, err := os.ReadFile("nats-cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^include \./nats\.conf$`).Match(conf) {
		t.Error("nats-cluster.conf does not include nats.conf, the accounts")
	}
	volumes := map[string]string{}
	for _, name := range natsNodes {
		svc := c.Services[name]
		cmd := strings.Join(svc.Command, " ")
		if !strings.Contains(cmd, "-c /etc/nats/nats-cluster.conf") || !strings.Contains(cmd, "--name "+name) || !strings.Contains(cmd, "-sd /data/") {
			t.Errorf("%s command %q: want -c /etc/nats/nats-cluster.conf --name %s -sd /data/…", name, cmd, name)
		}
		if !regexp.MustCompile(`(?m)^\s*nats://` + name + `:6222$`).Match(conf) {
			t.Errorf("nats-cluster.conf has no route to %s:6222", name)
		}
		mounts := map[string]bool{}
		for _, v := range svc.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst, _, _ = strings.Cut(dst, ":")
			mounts[dst] = true
			if dst == "/data" {
				if other, taken := volumes[src]; taken {
					t.Errorf("%s and %s share the JetStream volume %s", name, other, src)
				}
				volumes[src] = name
			}
		}
		for _, dst := range []string{"/data", "/etc/nats/nats.conf", "/etc/nats/nats-cluster.conf"} {
			if !mounts[dst] {
				t.Errorf("%s mounts nothing at %s", name, dst)
			}
		}
	}
	for _, name := range []string{"api", "api-2", "projector", "projector-2", "downstream-mirror"} {
		env := c.Services[name].Environment
		for _, node := range natsNodes {
			if !strings.Contains(env["NATS_URL"], "@"+node+":4222") {
				t.Errorf("%s NATS_URL does not name %s", name, node)
			}
		}
		if env["STREAM_REPLICAS"] != "3" {
			t.Errorf("%s STREAM_REPLICAS = %q, want 3", name, env["STREAM_REPLICAS"])
		}
		for dep, d := range c.Services[name].DependsOn {
			if strings.HasPrefix(dep, "nats") && d.Condition != "service_healthy" {
				t.Errorf("%s waits for %s to be %s, want service_healthy", name, dep, d.Condition)
			}
		}
	}
	for _, name := range []string{"projector", "projector-2"} {
		if ep := c.Services[name].Entrypoint; len(ep) != 1 || ep[0] != "/usr/local/bin/projector" {
			t.Errorf("%s entrypoint %v: want the projector itself", name, ep)
		}
	}
	bootstraps, hostPorts := 0, map[string]string{}
	for _, name := range []string{"api", "api-2"} {
		api := c.Services[name]
		if api.Environment["AUTH_BOOTSTRAP"] == "true" {
			bootstraps++
		}
		if api.Environment["AUTH_FILE"] != c.Services["api"].Environment["AUTH_FILE"] {
			t.Errorf("%s reads another AUTH_FILE than api", name)
		}
		for _, p := range api.Ports {
			parts := strings.Split(p, ":")
			host := parts[len(parts)-2]
			if other, taken := hostPorts[host]; taken {
				t.Errorf("%s and %s both publish the host's port %s", name, other, host)
			}
			hostPorts[host] = name
		}
	}
	if bootstraps != 1 {
		t.Errorf("%d apis have AUTH_BOOTSTRAP=true, want exactly one, so that one first token is created", bootstraps)
	}
	if d, ok := c.Services["api-2"].DependsOn["api"]; !ok || d.Condition != "service_healthy" {
		t.Error("api-2 does not wait for api to be healthy, so the first token may not be written yet")
	}
}
