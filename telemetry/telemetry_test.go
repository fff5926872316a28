package telemetry

import (
	"errors"
	"testing"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "http://collector:4318", want: "http://collector:4318/v1/traces"},
		{in: "http://collector:4318/", want: "http://collector:4318/v1/traces"},
		{in: "https://otel.example.com/prefix", want: "https://otel.example.com/prefix/v1/traces"},
		{in: "collector:4318", err: true},
		{in: "grpc://collector:4317", err: true},
		{in: "http://", err: true},
	} {
		got, err := TracesURL(tc.in)
		if tc.err {
			if !errors.Is(err, ErrEndpoint) {
				t.Errorf("TracesURL(%q) = %q, %v; want ErrEndpoint", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
