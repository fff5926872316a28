package api

import "strings"

// validTraceparent returns h if it is a W3C Trace Context traceparent
// header (https://www.w3.org/TR/trace-context/#traceparent-header), else "".
// An invalid one is ignored, not refused, as the recommendation asks: the
// request then starts a trace of its own. Versions above 00 are taken by
// their first four fields, as the recommendation asks for forward
// compatibility.
func validTraceparent(h string) string {
	const size = 55 // 2 + 1 + 32 + 1 + 16 + 1 + 2
	if len(h) < size || (len(h) > size && (h[0:2] == "00" || h[size] != '-')) {
		return ""
	}
	version, traceID, parentID, flags := h[0:2], h[3:35], h[36:52], h[53:55]
	if h[2] != '-' || h[35] != '-' || h[52] != '-' || version == "ff" {
		return ""
	}
	for _, f := range []string{version, traceID, parentID, flags} {
		if !lowerHex(f) {
			return ""
		}
	}
	if strings.Trim(traceID, "0") == "" || strings.Trim(parentID, "0") == "" {
		return ""
	}
	return h[:size]
}

func lowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
