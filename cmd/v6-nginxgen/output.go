package main

import (
	"fmt"

	"github.com/v6kit/v6kit/internal/cli"

	"github.com/v6kit/v6kit/report"
)

// result is what --json prints.
type result struct {
	Problems report.Problems `json:"problems"`
	Out      string          `json:"out,omitempty"`
	Changed  bool            `json:"changed"`
	Backup   string          `json:"backup,omitempty"`
	Diff     string          `json:"diff,omitempty"`
	Site     string          `json:"site,omitempty"`
	Nginx    string          `json:"nginx,omitempty"`
	Warnings []string        `json:"nginx_warnings,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// finish prints the result (JSON on stdout, or problems and warnings on stderr) and
// returns code.
func (res *result) finish(cmd *cli.Command, code int, err error, asJSON bool) int {
	stderr := cmd.Stderr
	if err != nil {
		res.Error = err.Error()
	}
	if asJSON {
		return cmd.JSON(code, res)
	}
	for _, p := range res.Problems.Sorted() {
		fmt.Fprintln(stderr, "v6-nginxgen:", p.Error())
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "v6-nginxgen: nginx -t:", w)
	}
	if err != nil && report.AsProblems(err) == nil && !cli.IsStdoutErr(cmd.Stdout, err) { // a failed stdout: cli.Main says it
		fmt.Fprintln(stderr, "v6-nginxgen:", err)
	}
	return code
}
