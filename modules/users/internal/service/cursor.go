package service

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/ports"
)

// cursorVersion prefixes every cursor so its format can change without misreading old ones.
const cursorVersion = 1

// cursorLen is version (1) + created_at in Unix microseconds (8) + id (16).
const cursorLen = 1 + 8 + 16

// encodeCursor makes an opaque, URL-safe token of a position. It carries the exact stored
// timestamp (microseconds), which a JSON date-time would round, so no user is skipped.
func encodeCursor(p ports.Position) string {
	var b [cursorLen]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(p.CreatedAt.UnixMicro()))
	copy(b[9:], p.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(s string) (ports.Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return ports.Position{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	id, err := uuid.FromBytes(b[9:])
	if err != nil {
		return ports.Position{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	micros := int64(binary.BigEndian.Uint64(b[1:9]))
	return ports.Position{CreatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}
