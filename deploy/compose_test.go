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
	for _, name := range []string{"nats", "postgres", "projector", "api"} {
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
	m := regexp.MustCompile(`^nats:2\.(\d+)`).FindStringSubmatch(c.Services["nats"].Image)
	if m == nil {
		t.Fatalf("nats image %q is not nats:2.x", c.Services["nats"].Image)
	}
	if minor, _ := strconv.Atoi(m[1]); minor < 12 {
		t.Errorf("nats image %s is older than 2.12", c.Services["nats"].Image)
	}
	for _, name := range []string{"api", "projector"} {
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
