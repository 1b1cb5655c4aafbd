// Package deploy_test checks the deployment files on reading, since no
// container engine runs where the tests do.
package deploy_test

import (
	"os"
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
		Restart string   `yaml:"restart"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
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
