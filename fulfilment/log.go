package fulfilment

// Log keys.
const (
	logOrder    = "order_id"
	logSKU      = "sku"
	logStep     = "step"
	logTrigger  = "trigger"
	logPosition = "position"
	logRetryIn  = "retry_in"
	logErr      = "err"
)
