package main

import (
	"io"
	"testing"

	"github.com/v6kit/v6kit/bundle"
)

// BenchmarkCompose measures rendering and validating the whole all-in-one bundle
// (env with secrets, units, nginx site, pg_hba block, tuning, Redis, NEXT-STEPS) in
// memory, without writing.
func BenchmarkCompose(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		t := bundle.New("", dir)
		example.Compose(t)
		if t.Problems.HasErrors() {
			b.Fatal(t.Problems)
		}
	}
}

// BenchmarkRun measures the whole command on a fresh directory each time: compose,
// validate, write 14 files atomically (fsync each) and print the summary.
func BenchmarkRun(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		out := b.TempDir()
		b.StartTimer()
		if rc := run([]string{"--out", out}, io.Discard, io.Discard); rc != 0 {
			b.Fatal("rc", rc)
		}
	}
}

// BenchmarkRerun measures a re-run on the command's own output (nothing changes).
func BenchmarkRerun(b *testing.B) {
	out := b.TempDir()
	if rc := run([]string{"--out", out}, io.Discard, io.Discard); rc != 0 {
		b.Fatal("rc", rc)
	}
	for b.Loop() {
		if rc := run([]string{"--out", out}, io.Discard, io.Discard); rc != 0 {
			b.Fatal("rc", rc)
		}
	}
}
