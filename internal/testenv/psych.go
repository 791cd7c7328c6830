package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
)

// psychScript renders an ERB template with ENV replaced by the request's variables, then
// loads the result with YAML.unsafe_load as Rails' config loaders do, and answers with
// the class and value of every top-level key (or the error).
const psychScript = `
require "yaml"; require "erb"; require "json"
STDOUT.sync = true
STDIN.each_line do |line|
  req = JSON.parse(line)
  begin
    env = req["env"]
    src = ERB.new(req["template"].gsub("ENV[", "env[")).result(binding)
    doc = YAML.unsafe_load(src)
    out = {}
    (doc || {}).each do |k, v|
      s = case v
          when String then v
          when Symbol then v.to_s
          when Integer, Float, TrueClass, FalseClass then v.to_s
          when NilClass then ""
          else v.inspect
          end
      out[k.to_s] = { "class" => v.class.to_s, "s" => s.dup.force_encoding("UTF-8").scrub }
    end
    puts JSON.generate({ "values" => out })
  rescue Exception => e
    puts JSON.generate({ "error" => "#{e.class}: #{e.message}".scrub })
  end
end
`

// PsychValue is what Ruby's YAML read for one key: its Ruby class ("String", "Symbol",
// "Integer", "TrueClass", "Hash", …) and its value as text.
type PsychValue struct {
	Class string `json:"class"`
	S     string `json:"s"`
}

// Psych is a running Ruby that reads ERB-filled YAML the way Rails does
// (ERB.new(…).result, then YAML.unsafe_load). One process serves many reads.
type Psych struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

// StartPsych starts Debian's ruby with its psych (skipped locally without ruby, a
// failure under CI=true) and stops it at cleanup.
func StartPsych(t testing.TB) *Psych {
	t.Helper()
	ruby := Tool(t, "ruby", "ruby")
	cmd := exec.Command(ruby, "-e", psychScript)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ruby: %v", err)
	}
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	return &Psych{in: in, out: bufio.NewReaderSize(out, 1<<16)}
}

// Read renders template (ERB reading ENV['NAME'] from env) and loads it as YAML. It
// returns the top-level keys' values, or the Ruby error as text (a YAML syntax error,
// a bad alias …) with a nil map.
func (p *Psych) Read(template string, env map[string]string) (map[string]PsychValue, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	req, err := json.Marshal(map[string]any{"template": template, "env": env})
	if err != nil {
		return nil, "", err
	}
	if _, err := p.in.Write(append(req, '\n')); err != nil {
		return nil, "", fmt.Errorf("psych: write: %w", err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return nil, "", fmt.Errorf("psych: read: %w", err)
	}
	var resp struct {
		Values map[string]PsychValue `json:"values"`
		Error  string                `json:"error"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, "", fmt.Errorf("psych: %w: %s", err, line)
	}
	return resp.Values, resp.Error, nil
}
