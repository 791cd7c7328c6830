package units

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Manager is the part of systemd that [Apply] drives. [DBusManager] implements it over
// D-Bus; [MemoryManager] records calls for tests and dry runs. Other packages (acme's
// deploy step reloading nginx.service) take a Manager too.
type Manager interface {
	// DaemonReload makes systemd re-read unit files (systemctl daemon-reload).
	DaemonReload(ctx context.Context) error
	// Enable enables unit files (systemctl enable), creating their [Install] symlinks.
	Enable(ctx context.Context, names []string) error
	// Start starts a unit and waits for its job to finish.
	Start(ctx context.Context, name string) error
	// Restart restarts a unit (starting it if stopped) and waits for its job.
	Restart(ctx context.Context, name string) error
	// ReloadUnit asks a unit to reload its configuration (systemctl reload) and waits.
	ReloadUnit(ctx context.Context, name string) error
}

// ApplyOptions controls [Apply].
type ApplyOptions struct {
	// Restart restarts the services (which also starts stopped ones) so changed units
	// take effect; false only starts them, leaving running services as they are.
	// Timers are always started, never restarted, so a renewal does not run on apply.
	Restart bool
}

// Apply activates a written plan: daemon-reload, enable every unit of [Plan.Enable],
// then start (or restart) every unit of [Plan.Start] in order. It stops at the first
// error, which names the unit.
func Apply(ctx context.Context, m Manager, p *Plan, opt ApplyOptions) error {
	if err := m.DaemonReload(ctx); err != nil {
		return fmt.Errorf("units: daemon-reload: %w", err)
	}
	if err := m.Enable(ctx, p.Enable); err != nil {
		return fmt.Errorf("units: enable %v: %w", p.Enable, err)
	}
	for _, name := range p.Start {
		var err error
		if opt.Restart && !isTimer(name) {
			err = m.Restart(ctx, name)
		} else {
			err = m.Start(ctx, name)
		}
		if err != nil {
			return fmt.Errorf("units: start %s: %w", name, err)
		}
	}
	return nil
}

func isTimer(name string) bool { return len(name) > 6 && name[len(name)-6:] == ".timer" }

// ConnectDBusManager connects to the systemd manager at address, or to the system's
// systemd when address is empty ([NewDBusManager]); the CLIs' --dbus-address.
func ConnectDBusManager(ctx context.Context, address string) (*DBusManager, error) {
	if address == "" {
		return NewDBusManager(ctx)
	}
	return DialDBusManager(ctx, address)
}

// UnitReloader reloads one unit through systemd: the systemd path of a deploy step,
// such as acme's (acme.Deploy.Reloader) reloading nginx.service after a renewal.
type UnitReloader struct {
	// Unit is the unit to reload, e.g. "nginx.service".
	Unit string
	// Manager reloads it. Nil: connect over D-Bus for each reload, to Address, and
	// close the connection afterwards (a run that reloads nothing never connects).
	Manager Manager
	// Address is the D-Bus address of the systemd manager when Manager is nil.
	// Empty: the system's systemd.
	Address string
}

// Reload reloads the unit and waits for systemd's job to finish.
func (r UnitReloader) Reload(ctx context.Context) error {
	if r.Manager != nil {
		return r.Manager.ReloadUnit(ctx, r.Unit)
	}
	m, err := ConnectDBusManager(ctx, r.Address)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.ReloadUnit(ctx, r.Unit)
}

// DBusManager is a [Manager] over systemd's D-Bus API (go-systemd's dbus package).
type DBusManager struct {
	conn *sddbus.Conn
}

// NewDBusManager connects to systemd: the system bus, or as root systemd's private
// socket. On a host where systemd is not PID 1 it fails with the bus's error.
func NewDBusManager(ctx context.Context) (*DBusManager, error) {
	c, err := sddbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("units: connect to systemd: %w", err)
	}
	return &DBusManager{conn: c}, nil
}

// DialDBusManager connects to the systemd manager on the bus at address (a D-Bus
// address such as unix:path=/run/dbus/system_bus_socket). Tests use it with a private
// dbus-daemon.
func DialDBusManager(ctx context.Context, address string) (*DBusManager, error) {
	c, err := sddbus.NewConnection(func() (*dbus.Conn, error) {
		return dbus.Connect(address, dbus.WithContext(ctx))
	})
	if err != nil {
		return nil, fmt.Errorf("units: connect to %s: %w", address, err)
	}
	return &DBusManager{conn: c}, nil
}

// Close closes the connection.
func (m *DBusManager) Close() { m.conn.Close() }

// DaemonReload implements [Manager].
func (m *DBusManager) DaemonReload(ctx context.Context) error { return m.conn.ReloadContext(ctx) }

// Enable implements [Manager]: EnableUnitFiles(names, runtime=false, force=false).
func (m *DBusManager) Enable(ctx context.Context, names []string) error {
	_, _, err := m.conn.EnableUnitFilesContext(ctx, names, false, false)
	return err
}

// Start implements [Manager] (mode "replace").
func (m *DBusManager) Start(ctx context.Context, name string) error {
	return m.job(ctx, name, m.conn.StartUnitContext)
}

// Restart implements [Manager] (mode "replace").
func (m *DBusManager) Restart(ctx context.Context, name string) error {
	return m.job(ctx, name, m.conn.RestartUnitContext)
}

// ReloadUnit implements [Manager] (mode "replace").
func (m *DBusManager) ReloadUnit(ctx context.Context, name string) error {
	return m.job(ctx, name, m.conn.ReloadUnitContext)
}

func (m *DBusManager) job(ctx context.Context, name string, call func(context.Context, string, string, chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := call(ctx, name, "replace", ch); err != nil {
		return err
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%w: %s finished with %q", ErrJob, name, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the job of %s: %w", name, ctx.Err())
	}
}

// MemoryManager is an in-memory [Manager]: it records every call and can fail chosen
// units. The zero value is ready to use and safe for concurrent use.
type MemoryManager struct {
	mu sync.Mutex
	// Calls lists the calls in order, e.g. "daemon-reload", "enable a.service b.service",
	// "start a.service", "restart b.service", "reload nginx.service".
	Calls []string
	// Fail maps a unit name to the job result that Start/Restart/ReloadUnit report for it
	// ("failed", "timeout", …).
	Fail map[string]string
	// Enabled and Active hold the units enabled and started so far.
	Enabled, Active []string
}

func (m *MemoryManager) record(call string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls = append(m.Calls, call)
}

// DaemonReload implements [Manager].
func (m *MemoryManager) DaemonReload(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.record("daemon-reload")
	return nil
}

// Enable implements [Manager].
func (m *MemoryManager) Enable(ctx context.Context, names []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("no units to enable")
	}
	call := "enable"
	for _, n := range names {
		call += " " + n
	}
	m.record(call)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if !slices.Contains(m.Enabled, n) {
			m.Enabled = append(m.Enabled, n)
		}
	}
	return nil
}

func (m *MemoryManager) job(ctx context.Context, verb, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.record(verb + " " + name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if res, ok := m.Fail[name]; ok {
		return fmt.Errorf("%w: %s finished with %q", ErrJob, name, res)
	}
	if verb != "reload" && !slices.Contains(m.Active, name) {
		m.Active = append(m.Active, name)
	}
	return nil
}

// Start implements [Manager].
func (m *MemoryManager) Start(ctx context.Context, name string) error {
	return m.job(ctx, "start", name)
}

// Restart implements [Manager].
func (m *MemoryManager) Restart(ctx context.Context, name string) error {
	return m.job(ctx, "restart", name)
}

// ReloadUnit implements [Manager].
func (m *MemoryManager) ReloadUnit(ctx context.Context, name string) error {
	return m.job(ctx, "reload", name)
}
