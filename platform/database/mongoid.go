package database

import (
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoID is a UUID as the MongoDB adapters store it: binary subtype 4, which BSON compares
// byte by byte, so UUIDv7 ids keep their time order.
func MongoID(id uuid.UUID) bson.Binary {
	return bson.Binary{Subtype: bson.TypeBinaryUUID, Data: id[:]}
}

// FromMongoID reads a UUID stored by MongoID.
func FromMongoID(b bson.Binary) (uuid.UUID, error) { return uuid.FromBytes(b.Data) }
