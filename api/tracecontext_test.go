package api

import "testing"

func TestValidTraceparent(t *testing.T) {
	t.Parallel()
	const good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"valid", good, good},
		{"empty", "", ""},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"zero trace ID", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"zero parent ID", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", ""},
		{"version 00 with more", good + "-extra", ""},
		{"later version with more", "01" + good[2:] + "-extra", "01" + good[2:]},
		{"later version run on", "01" + good[2:] + "x", ""},
		{"bad separator", "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validTraceparent(tc.in); got != tc.want {
				t.Fatalf("validTraceparent(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
