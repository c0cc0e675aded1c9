package events

// The transactional outbox on MongoDB. A standalone MongoDB server has no transactions, so a
// module keeps the events of a document's changes in the document itself, written by the same
// single-document update as the change: a committed change has its events and a refused one
// never does, as on the SQL engines. A collection that does so is an outbox collection (a
// module names it in the "mongo_outboxes" group), and its documents carry these fields:
//
//   - outbox: the pending events, oldest first (MongoPending);
//   - outbox_seq: the sequence number of the last event ever appended to the document;
//   - pending: true while the outbox may hold events (the relay's index);
//   - deleted: true for the tombstone a deletion leaves until the relay has published its
//     events; the relay then removes it.
//
// The relay publishes a document's events in order, pulls them out by sequence number and
// clears pending only if outbox_seq has not moved meanwhile, so no writer needs to coordinate
// with it.
const (
	MongoOutboxField    = "outbox"
	MongoOutboxSeqField = "outbox_seq"
	MongoPendingField   = "pending"
	MongoDeletedField   = "deleted"
)

// MongoPending is an event waiting in a document's outbox.
type MongoPending struct {
	Seq int64 `bson:"seq"`
	// Envelope is the event's CloudEvents JSON.
	Envelope string `bson:"envelope"`
	// Time is when the event was appended, in microseconds since 1970: the backlog's age.
	Time int64 `bson:"time"`
}

// MongoOutbox returns evs as they are appended to the outbox of a document whose outbox_seq is
// seq (0 for a new document); the document's outbox_seq becomes seq+len(evs) and pending
// true, in the same update. The writer's update must be filtered on what it read (a version),
// so that seq is current.
func MongoOutbox(seq int64, evs []Event) ([]MongoPending, error) {
	out := make([]MongoPending, len(evs))
	for i, e := range evs {
		env, err := e.MarshalJSON()
		if err != nil {
			return nil, err
		}
		out[i] = MongoPending{Seq: seq + int64(i) + 1, Envelope: string(env), Time: e.Time.UnixMicro()}
	}
	return out, nil
}
