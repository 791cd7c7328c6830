package main

import (
	"flag"
	"strings"

	"github.com/v6kit/v6kit/units"
)

// parseProcesses reads --processes: a comma-separated list of web, sidekiq and
// streaming, or none (units.Deployment.Processes checks the names).
func parseProcesses(d *units.Deployment) func(string) error {
	return func(v string) error {
		d.Processes = nil
		for _, p := range strings.Split(v, ",") {
			d.Processes = append(d.Processes, units.Process(strings.TrimSpace(p)))
		}
		return nil
	}
}

// dropUnusedDefaults clears the flag defaults (web port, workers, threads, streaming
// count and pool, bind) of processes the host does not run, unless the flag was given:
// a value the user typed for a process the host doesn't run is still reported.
func dropUnusedDefaults(fs *flag.FlagSet, d *units.Deployment) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	given := func(names ...string) bool {
		for _, n := range names {
			if set[n] {
				return true
			}
		}
		return false
	}
	if !d.Runs(units.ProcessWeb) && !given("web-port", "web-workers", "web-threads") {
		d.Web = units.Web{}
	}
	if !d.Runs(units.ProcessStreaming) && !given("streaming", "streaming-pool") {
		d.Streaming = units.Streaming{}
	}
	if !d.Runs(units.ProcessWeb) && !d.Runs(units.ProcessStreaming) && !given("bind") {
		d.Bind = units.Deployment{}.Bind
	}
}
