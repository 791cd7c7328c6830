package report

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBadDomain = errors.New("domain must be a DNS name")

func TestErrOnlyForErrors(t *testing.T) {
	t.Parallel()
	var ps Problems
	assert.NoError(t, ps.Err(), "the zero report is clean")
	ps.Warnf("SMTP_PORT", nil, "port 25 without TLS")
	ps.Infof("LOCAL_DOMAIN", "converted to punycode")
	assert.NoError(t, ps.Err(), "warnings do not fail")
	require.Error(t, ps.Strict(), "warnings fail under --strict")
	assert.NotContains(t, ps.Strict().Error(), "punycode", "notes never fail")
	ps.Errorf("LOCAL_DOMAIN", errBadDomain, "%q holds ';'", "a;b")
	err := ps.Err()
	require.ErrorIs(t, err, errBadDomain)
	assert.Equal(t, `LOCAL_DOMAIN: "a;b" holds ';'`, err.Error())
	assert.Len(t, AsProblems(err), 1)
	assert.Nil(t, AsProblems(errors.New("other")))
}

func TestAppendJoinsPaths(t *testing.T) {
	t.Parallel()
	var inner Problems
	inner.Errorf("queues[0]", nil, "bad queue")
	inner.Errorf("[2]", nil, "bad index")
	inner.Errorf(":12", nil, "bad line")
	inner.Errorf("", nil, "whole")
	var ps Problems
	ps.Append("sidekiq[1]", inner)
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	assert.Equal(t, []string{"sidekiq[1].queues[0]", "sidekiq[1][2]", "sidekiq[1]:12", "sidekiq[1]"}, paths)
}

func TestSortedIsStableAndListsEveryError(t *testing.T) {
	t.Parallel()
	var ps Problems
	ps.Warnf("b", nil, "w")
	ps.Errorf("z", errBadDomain, "e1")
	ps.Errorf("a", nil, "e2")
	s := ps.Sorted()
	assert.Equal(t, []string{"a", "z", "b"}, []string{s[0].Path, s[1].Path, s[2].Path})
	assert.Equal(t, "b", ps[0].Path, "Sorted returns a copy")
	err := ps.Err()
	assert.Contains(t, err.Error(), "2 problems:")
	assert.Len(t, err.(*ListError).Unwrap(), 2)
	assert.Equal(t, "warning", Warning.String())
	b, _ := Error.MarshalText()
	assert.Equal(t, "error", string(b))
}

func Example() {
	var ps Problems
	ps.Errorf("nginx.server_names[1]", errBadDomain, "%q holds a space: use one DNS name per entry", "a b")
	ps.Warnf("sidekiq[0].queues[2]", nil, "queue %q is unknown to Mastodon 4.7", "pushh")
	fmt.Print(ps.Sorted())
	fmt.Println(errors.Is(ps.Err(), errBadDomain))
	// Output:
	// nginx.server_names[1]: "a b" holds a space: use one DNS name per entry
	// sidekiq[0].queues[2]: warning: queue "pushh" is unknown to Mastodon 4.7
	// true
}
