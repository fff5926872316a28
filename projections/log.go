package projections

// Log keys.
const (
	logProjection = "projection"
	logPosition   = "position"
	logErr        = "err"
)
