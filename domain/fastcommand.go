package domain

// Command bodies arrive over HTTP, where clients send the same plain shape
// the event payloads have. DecodeCommand is the direct decoder of fastdecode.go
// for them: the API tries it first and hands anything it gives up on to its
// strict encoding/json decoder, which then also explains what is wrong.

// DecodeCommand decodes data into the command cmd points to (a *PlaceOrder,
// *AddLine, *RemoveLine, *Pay, *Ship, *Cancel or *ReceiveStock, holding its
// zero value) and reports whether it could. It accepts only a JSON object
// of the command's own member names, each once, spelled exactly, with
// ASCII strings without escapes and int64 numbers; whenever it accepts,
// encoding/json with unknown fields disallowed decodes data to the same
// value. On false, *cmd holds partial results: decode data again from a
// zero value.
func DecodeCommand(data []byte, cmd Command) bool {
	d, ok := cmd.(fieldDecoder)
	return ok && decodeFast(d, data)
}

func (c *PlaceOrder) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "id":
		c.ID = s.str()
	case "customer_id":
		c.CustomerID = s.str()
	case "currency":
		c.Currency = s.str()
	case "lines":
		c.Lines = s.lines()
	default:
		return false
	}
	return true
}

func (c *AddLine) decodeField(s *scanner, key []byte) bool {
	return (*Line)(c).decodeField(s, key)
}

func (c *RemoveLine) decodeField(s *scanner, key []byte) bool {
	if string(key) != "sku" {
		return false
	}
	c.SKU = s.str()
	return true
}

func (c *Pay) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "amount":
		c.Amount = s.int()
	case "payment_ref":
		c.PaymentRef = s.str()
	default:
		return false
	}
	return true
}

func (c *Ship) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "carrier":
		c.Carrier = s.str()
	case "tracking":
		c.Tracking = s.str()
	default:
		return false
	}
	return true
}

func (c *Cancel) decodeField(s *scanner, key []byte) bool {
	if string(key) != "reason" {
		return false
	}
	c.Reason = s.str()
	return true
}

func (c *ReceiveStock) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		c.SKU = s.str()
	case "quantity":
		c.Quantity = s.int()
	default:
		return false
	}
	return true
}
