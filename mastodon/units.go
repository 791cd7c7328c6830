package mastodon

import "slices"

// Facts about the systemd units in Mastodon's dist/ directory (mastodon-web.service,
// mastodon-sidekiq.service, mastodon-streaming[@].service,
// mastodon-prometheus-exporter.service), per release, for the units package.

// UnitOption is one Name=Value line of a dist unit, in upstream's order.
type UnitOption struct {
	Name, Value string
}

// Process names a Mastodon process that has a dist unit.
const (
	ProcessWeb       = "web"
	ProcessSidekiq   = "sidekiq"
	ProcessStreaming = "streaming"
	ProcessExporter  = "exporter"
)

// DistUnitTimeoutSec is the TimeoutSec= of every dist unit (2017 guide … main).
const DistUnitTimeoutSec = "15"

// DistStreamingLimitNOFILE is the LimitNOFILE= of mastodon-streaming@.service (4.2.0+).
const DistStreamingLimitNOFILE = "65536"

// DistJemalloc is the LD_PRELOAD value the dist units use from 3.5.0 (a bare soname that
// needs the libjemalloc development symlink; v6kit's layouts name the runtime soname).
const DistJemalloc = "libjemalloc.so"

// DistStreamingShimMessage is what the 4.2.0+ mastodon-streaming.service shim echoes.
const DistStreamingShimMessage = "mastodon-streaming exists only to collectively start and stop mastodon-streaming@ instances, shimming over the migration to templated mastodon-streaming systemd unit"

// distExporterArgs are the arguments of bin/prometheus_exporter in
// mastodon-prometheus-exporter.service (4.6.0+), after `-p PORT -b ADDR`.
var distExporterArgs = []string{"--prefix", "mastodon_"}

// DistHardeningOptions returns the sandbox block of this release's dist unit for a
// process ([ProcessWeb], [ProcessSidekiq], [ProcessStreaming], [ProcessExporter]), in
// upstream's order, without ReadWritePaths (the caller adds the app directory and any
// path the site writes outside it). Empty before 3.4.0 (no sandbox).
func (r Release) DistHardeningOptions(process string) []UnitOption {
	switch r.DistHardening() {
	case Hardening34:
		// 3.4.x: the first sandbox; ProtectSystem=strict without ReadWritePaths, no
		// ProcSubset/ProtectProc/RemoveIPC, one deny-list for every process.
		return []UnitOption{
			{"CapabilityBoundingSet", ""},
			{"NoNewPrivileges", "true"},
			{"ProtectSystem", "strict"},
			{"PrivateTmp", "true"},
			{"PrivateDevices", "true"},
			{"PrivateUsers", "true"},
			{"ProtectHostname", "true"},
			{"ProtectKernelLogs", "true"},
			{"ProtectKernelModules", "true"},
			{"ProtectKernelTunables", "true"},
			{"ProtectControlGroups", "true"},
			{"RestrictAddressFamilies", "AF_INET"},
			{"RestrictAddressFamilies", "AF_INET6"},
			{"RestrictAddressFamilies", "AF_NETLINK"},
			{"RestrictAddressFamilies", "AF_UNIX"},
			{"RestrictNamespaces", "true"},
			{"LockPersonality", "true"},
			{"RestrictRealtime", "true"},
			{"RestrictSUIDSGID", "true"},
			{"PrivateMounts", "true"},
			{"ProtectClock", "true"},
			{"SystemCallArchitectures", "native"},
			{"SystemCallFilter", "~@clock @cpu-emulation @debug @keyring @module @mount @obsolete @raw-io @reboot @resources @setuid @swap"},
		}
	case HardeningFull:
		// 3.5.0 … main: identical in web, sidekiq, streaming@ and the exporter, except
		// the system-call filter.
		out := []UnitOption{
			{"ProcSubset", "pid"},
			{"ProtectProc", "invisible"},
			{"CapabilityBoundingSet", ""},
			{"NoNewPrivileges", "true"},
			{"ProtectSystem", "strict"},
			{"PrivateTmp", "true"},
			{"PrivateDevices", "true"},
			{"PrivateUsers", "true"},
			{"ProtectHostname", "true"},
			{"ProtectKernelLogs", "true"},
			{"ProtectKernelModules", "true"},
			{"ProtectKernelTunables", "true"},
			{"ProtectControlGroups", "true"},
			{"RestrictAddressFamilies", "AF_INET"},
			{"RestrictAddressFamilies", "AF_INET6"},
			{"RestrictAddressFamilies", "AF_NETLINK"},
			{"RestrictAddressFamilies", "AF_UNIX"},
			{"RestrictNamespaces", "true"},
			{"LockPersonality", "true"},
			{"RestrictRealtime", "true"},
			{"RestrictSUIDSGID", "true"},
			{"RemoveIPC", "true"},
			{"PrivateMounts", "true"},
			{"ProtectClock", "true"},
			{"SystemCallArchitectures", "native"},
		}
		if process == ProcessStreaming {
			// Node: no @chown, but @memlock and @resources denied too (3.5.0+).
			return append(out,
				UnitOption{"SystemCallFilter", "~@cpu-emulation @debug @keyring @ipc @memlock @mount @obsolete @privileged @resources @setuid"},
				UnitOption{"SystemCallFilter", "pipe"},
				UnitOption{"SystemCallFilter", "pipe2"},
			)
		}
		// Ruby units (web, sidekiq, exporter), 3.5.0+.
		return append(out,
			UnitOption{"SystemCallFilter", "~@cpu-emulation @debug @keyring @ipc @mount @obsolete @privileged @setuid"},
			UnitOption{"SystemCallFilter", "@chown"},
			UnitOption{"SystemCallFilter", "pipe"},
			UnitOption{"SystemCallFilter", "pipe2"},
		)
	}
	return nil
}

// DistReadWritePaths reports whether the dist units list the app directory in
// ReadWritePaths= (3.5.0+; 3.4.x sandboxed without it, so uploads failed).
func (r Release) DistReadWritePaths() bool { return r.AtLeast(3, 5, 0) }

// DistSidekiqQueueFlags reports whether the dist sidekiq unit passes its queues as -q
// flags (the 2017 guide for 1.6: `-q default -q mailers -q pull -q push`); from 2.6 the
// unit passes none and sidekiq reads config/sidekiq.yml.
func (r Release) DistSidekiqQueueFlags() bool { return r.Version.Before(V(2, 6, 0)) }

// DistStreamingClusterNum reports whether the dist streaming unit sets
// STREAMING_CLUSTER_NUM=1 (2.6 … 4.1; the variable is gone in 4.2.0).
func (r Release) DistStreamingClusterNum() bool {
	return r.AtLeast(2, 6, 0) && r.Version.Before(V(4, 2, 0))
}

// DistExporterArgs returns the arguments of bin/prometheus_exporter in
// mastodon-prometheus-exporter.service (4.6.0+), after `-p PORT -b ADDR`: a new slice
// each call.
func DistExporterArgs() []string { return slices.Clone(distExporterArgs) }
