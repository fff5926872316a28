package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Encode returns the type name and JSON payload of e. It fails with
// ErrUnknownEventType if e is not one of this package's event types (a
// pointer to one included), so that only decodable events get stored.
func Encode(e Event) (eventType string, data []byte, err error) {
	switch e.(type) {
	case OrderPlaced, OrderLineAdded, OrderLineRemoved, OrderPaid,
		OrderShipped, OrderCancelled, StockReceived, OrderStockReserved, OrderRejected,
		StockReserved, StockReservationRefused, StockReleased, StockShipped:
	default:
		return "", nil, fmt.Errorf("encode %T: %w", e, ErrUnknownEventType)
	}
	if d, ok := e.(directEncoder); ok {
		if data, ok := d.appendJSON(make([]byte, 0, 256)); ok {
			return e.EventType(), data, nil
		}
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return e.EventType(), data, nil
}

// Decode returns the event of type eventType held in the JSON payload data,
// as a value such as OrderPaid. It fails with ErrUnknownEventType for a type
// it does not know, and with ErrMalformedEvent if data is not a JSON object
// or a field has the wrong JSON type. Unknown fields are ignored, so that
// newer payloads still decode; missing fields are left zero.
func Decode(eventType string, data []byte) (Event, error) {
	switch eventType {
	case TypeOrderPlaced:
		return decode[OrderPlaced](eventType, data)
	case TypeOrderLineAdded:
		return decode[OrderLineAdded](eventType, data)
	case TypeOrderLineRemoved:
		return decode[OrderLineRemoved](eventType, data)
	case TypeOrderPaid:
		return decode[OrderPaid](eventType, data)
	case TypeOrderShipped:
		return decode[OrderShipped](eventType, data)
	case TypeOrderCancelled:
		return decode[OrderCancelled](eventType, data)
	case TypeStockReceived:
		return decode[StockReceived](eventType, data)
	case TypeOrderStockReserved:
		return decode[OrderStockReserved](eventType, data)
	case TypeOrderRejected:
		return decode[OrderRejected](eventType, data)
	case TypeStockReserved:
		return decode[StockReserved](eventType, data)
	case TypeStockReservationRefused:
		return decode[StockReservationRefused](eventType, data)
	case TypeStockReleased:
		return decode[StockReleased](eventType, data)
	case TypeStockShipped:
		return decode[StockShipped](eventType, data)
	}
	return nil, fmt.Errorf("decode %q: %w", eventType, ErrUnknownEventType)
}

func decode[E Event](eventType string, data []byte) (Event, error) {
	// json.Unmarshal accepts null (and leaves e zero); a payload must be an
	// object.
	if rest := bytes.TrimLeft(data, " \t\r\n"); len(rest) == 0 || rest[0] != '{' {
		return nil, fmt.Errorf("decode %s: %w: payload is not a JSON object", eventType, ErrMalformedEvent)
	}
	var e E
	if fd, ok := any(&e).(fieldDecoder); ok && decodeFast(fd, data) {
		return e, nil
	}
	e = *new(E) // drop what decodeFast left
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", eventType, ErrMalformedEvent, err)
	}
	return e, nil
}
