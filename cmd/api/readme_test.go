package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The tests in this file keep the README and docs/ true: every curl
// example in the README's sh blocks answers 2xx from a fresh api, and
// every file a document links to is in the repository.

// example is one command of a README sh block: a curl line, and, for
// NAME=$(curl … | jq -r .FIELD), the variable it sets from the answer.
type example struct {
	line         string // the curl command, continuation lines joined
	capture, key string
}

var captureLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=\$\((curl .*?)\s*\|\s*jq -r \.([A-Za-z_]+)\)$`)

// readmeExamples returns the curl commands of the sh code blocks of the
// markdown file at path, in order.
func readmeExamples(t *testing.T, path string) []example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	inSh, pending := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch trimmed := strings.TrimSpace(line); {
		case strings.HasPrefix(trimmed, "```"):
			inSh = !inSh && trimmed == "```sh"
			pending = ""
			continue
		case !inSh:
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line, pending = strings.TrimSpace(pending+line), ""
		if m := captureLine.FindStringSubmatch(line); m != nil {
			out = append(out, example{line: m[2], capture: m[1], key: m[3]})
		} else if strings.HasPrefix(line, "curl ") && projectorMetrics.MatchString(line) {
			// The projector's own /readyz, in the topology started by
			// hand; cmd/projector's tests check what it answers.
		} else if strings.HasPrefix(line, "curl ") {
			out = append(out, example{line: line})
		} else if strings.Contains(line, "curl ") && !strings.HasPrefix(line, "#") {
			t.Errorf("README: a curl command this test cannot run: %s", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// shellWords splits line into words as sh would for the quoting the
// README uses: single and double quotes, backslash escapes, and $NAME or
// ${NAME} expanded from vars outside single quotes. A variable that vars
// does not hold is an error, so an example cannot lean on one the README
// never set.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := rune(0)
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'' && r == '\'', quote == '"' && r == '"':
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case r == '\\' && i+1 < len(rs) && (quote == 0 || strings.ContainsRune(`$"\`, rs[i+1])):
			i++
			cur.WriteRune(rs[i])
		case r == '$':
			name, n := varName(rs[i+1:])
			if name == "" {
				cur.WriteRune(r)
				break
			}
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("$%s is not set by an earlier example", name)
			}
			cur.WriteString(v)
			i += n
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
			continue
		default:
			cur.WriteRune(r)
		}
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// varName reads NAME or {NAME} at the start of rs and returns it with
// the number of runes it took.
func varName(rs []rune) (string, int) {
	if len(rs) > 0 && rs[0] == '{' {
		for j := 1; j < len(rs); j++ {
			if rs[j] == '}' {
				return string(rs[1:j]), j + 1
			}
		}
		return "", 0
	}
	j := 0
	for j < len(rs) && (rs[j] == '_' || rs[j] >= 'a' && rs[j] <= 'z' || rs[j] >= 'A' && rs[j] <= 'Z' || j > 0 && rs[j] >= '0' && rs[j] <= '9') {
		j++
	}
	return string(rs[:j]), j
}

// curlRequest builds the request curl would send for its arguments, with
// localhost:8080 replaced by base. Like curl, -d without a Content-Type
// header sends application/x-www-form-urlencoded, which the api refuses:
// an example that forgets the header fails here as it would for a reader.
func curlRequest(words []string, base string) (*http.Request, error) {
	var method, url, body string
	hasBody := false
	header := http.Header{}
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return words[i], nil
		}
		var err error
		switch {
		case w == "-X" || w == "--request":
			method, err = next()
		case w == "-H" || w == "--header":
			var h string
			if h, err = next(); err == nil {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return nil, fmt.Errorf("header %q has no colon", h)
				}
				header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		case w == "-d" || w == "--data" || w == "--data-raw" || w == "--data-binary":
			body, err = next()
			hasBody = true
		case regexp.MustCompile(`^-[sSfiNL]+$`).MatchString(w), w == "--silent", w == "--show-error", w == "--fail", w == "--no-buffer":
		case strings.HasPrefix(w, "-"):
			return nil, fmt.Errorf("curl option %s is not understood by this test", w)
		default:
			rest, ok := strings.CutPrefix(strings.TrimPrefix(w, "http://"), "localhost:8080")
			if !ok {
				return nil, fmt.Errorf("%s is not on localhost:8080", w)
			}
			url = base + rest
		}
		if err != nil {
			return nil, err
		}
	}
	if url == "" {
		return nil, fmt.Errorf("no URL")
	}
	if method == "" {
		method = http.MethodGet
		if hasBody {
			method = http.MethodPost
		}
	}
	var rd io.Reader
	if hasBody {
		rd = strings.NewReader(body)
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header = header
	return req, nil
}

// TestReadmeExamples runs the README's curl examples, in order, against
// the real api in embedded mode, and fails unless each answers 2xx.
// projectorMetrics matches a curl of the projector's metrics address
// (METRICS_ADDR, 127.0.0.1:9090 and up), not the api's.
var projectorMetrics = regexp.MustCompile(`^curl( -s)? 127\.0\.0\.1:909[0-9]/`)

func TestReadmeExamples(t *testing.T) {
	exs := readmeExamples(t, "../../README.md")
	if len(exs) < 5 {
		t.Fatalf("found only %d curl examples in README.md", len(exs))
	}
	a := startApp(t, map[string]string{"DATA_DIR": t.TempDir()})
	client := &http.Client{Timeout: 15 * time.Second}
	vars := map[string]string{}
	for _, ex := range exs {
		words, err := shellWords(ex.line, vars)
		if err != nil {
			t.Fatalf("README: %s: %v", ex.line, err)
		}
		req, err := curlRequest(words, a.base)
		if err != nil {
			t.Fatalf("README: %s: %v", ex.line, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("README: %s: %v", ex.line, err)
		}
		var b []byte
		// An event stream never ends; its status is what counts.
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			b, err = io.ReadAll(resp.Body)
		}
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			t.Errorf("README: %s\nanswered %d %s", ex.line, resp.StatusCode, b)
			continue
		}
		if ex.capture != "" {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil || m[ex.key] == nil {
				t.Fatalf("README: %s\nanswer has no %s: %s", ex.line, ex.key, b)
			}
			vars[ex.capture] = strings.TrimSuffix(fmt.Sprint(m[ex.key]), ".0")
			if f, ok := m[ex.key].(float64); ok {
				vars[ex.capture] = fmt.Sprintf("%.0f", f)
			}
		}
	}
}

// TestShellWords pins the quoting the README's examples rely on.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"id": "01J", "pos": "7"}
	for _, tt := range []struct{ line, want string }{
		{`curl -s localhost:8080/v1/experiments/$id/start`, `curl|-s|localhost:8080/v1/experiments/01J/start`},
		{`curl "localhost:8080/a?x=1&min_position=$pos"`, `curl|localhost:8080/a?x=1&min_position=7`},
		{`curl -d '{"id":"'"$id"'"}'`, `curl|-d|{"id":"01J"}`},
		{`curl -d '{"a":"$id"}' -H 'A: b'`, `curl|-d|{"a":"$id"}|-H|A: b`},
		{`curl x\ y ${id}`, `curl|x y|01J`},
	} {
		got, err := shellWords(tt.line, vars)
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("shellWords(%s) = %q, %v; want %s", tt.line, got, err, tt.want)
		}
	}
	if _, err := shellWords(`curl $nope`, vars); err == nil {
		t.Error("an unset variable was expanded")
	}
	req, err := curlRequest([]string{"curl", "localhost:8080/v1/experiments", "-d", "{}"}, "http://127.0.0.1:1")
	if err != nil || req.Method != "POST" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("curl -d without a header = %v, %v; want a POST of a form, as curl sends", req, err)
	}
}

var (
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdCodeMD = regexp.MustCompile("`([^`\\s]+\\.md)`")
)

// TestDocsLinkOnlyToFilesInTheRepository fails when README.md or a
// document in docs/ links to a relative file that is not in the
// repository, or names a markdown file in code that is not there.
func TestDocsLinkOnlyToFilesInTheRepository(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Error("docs/ holds no markdown files")
	}
	inRepo := func(p string) bool {
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return false
		}
		_, err = os.Stat(p)
		return err == nil
	}
	for _, doc := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, doc)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if !inRepo(filepath.Join(filepath.Dir(doc), target)) {
				t.Errorf("%s links to %s, which is not in the repository", name, m[1])
			}
		}
		for _, m := range mdCodeMD.FindAllStringSubmatch(string(b), -1) {
			if !inRepo(filepath.Join(filepath.Dir(doc), m[1])) && !inRepo(filepath.Join(root, m[1])) {
				t.Errorf("%s names %s, which is not in the repository", name, m[1])
			}
		}
	}
}
