package webhooks

import (
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// isField tells whether err is a ValidationError of field.
func isField(err error, field string) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == field && errors.Is(err, ErrInvalid)
}

func paid() eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "OrderPaid",
		Data: json.RawMessage(`{"amount":300,"payment_ref":"p","paid_at":"2026-01-02T03:04:05Z"}`)}
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
