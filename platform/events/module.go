package events

import (
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/fx"
	"go.uber.org/zap"

	eventsql "github.com/acme/userservice/queries/events"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/logging"
	"github.com/acme/userservice/platform/oas"
)

// Schema contributes the outbox's tables to every command's migrations: a command that changes
// data (the admin command too) writes events.
var Schema = fx.Module("events-schema",
	fx.Provide(
		fx.Annotate(func() database.Migrations { return eventsql.Migrations().WithMongo(MongoIndexes) }, fx.ResultTags(`group:"migrations"`)),
		NewSignal,
	),
)

// Module runs the events backbone of the serving application: the relay publishing the outbox
// through the broker (embedded, or NATS JetStream when NATS_URL is set) to the modules'
// subscriptions, and the changes feed.
var Module = fx.Module("events",
	fx.Provide(
		fx.Private,
		newStore,
		newMetrics,
	),
	fx.Provide(
		NewBroker,
		NewRelay,
		NewFeed,
		func(f *Feed) oas.EventsHandler { return f },
		logging.AsBackend(brokerBackend),
	),
	fx.Invoke(func(lc fx.Lifecycle, r *Relay) { lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop}) }),
)

// BrokerParams are the inputs of NewBroker.
type BrokerParams struct {
	fx.In
	Lifecycle     fx.Lifecycle
	Config        config.Config
	Subscriptions []Subscription `group:"event_subscriptions"`
	Log           *zap.Logger
}

// NewBroker returns the embedded broker over the modules' subscriptions or, when NATS_URL is
// set, the NATS JetStream broker, started and stopped with the application.
func NewBroker(p BrokerParams, s store, m *Metrics) Broker {
	log := p.Log.Named("events")
	if p.Config.NATSURL == "" {
		l := &Local{subs: p.Subscriptions, store: s, retry: DefaultRetry(), log: log, metrics: m}
		p.Lifecycle.Append(fx.Hook{OnStart: l.Start, OnStop: l.Stop})
		return l
	}
	n := &NATS{url: p.Config.NATSURL, names: natsNames{Prefix: p.Config.NATSStream}, subs: p.Subscriptions, store: s, retry: DefaultRetry(), log: log, metrics: m,
		retention: p.Config.EventRetention, ackWait: 10 * time.Second}
	p.Lifecycle.Append(fx.Hook{OnStart: n.Start, OnStop: n.Stop})
	return n
}

// brokerBackend names the broker in the start-up line of backends.
func brokerBackend(cfg config.Config) logging.Backend {
	if cfg.NATSURL == "" {
		return logging.Backend{Role: "broker", Use: "in-process"}
	}
	return logging.Backend{Role: "broker", Use: "NATS " + redactNATS(cfg.NATSURL) + " stream " + (natsNames{Prefix: cfg.NATSStream}).stream()}
}

// redactNATS is NATS_URL (one or more URLs, comma-separated) without its credentials (a user
// and password, or a token, before the host).
func redactNATS(raw string) string {
	servers := strings.Split(raw, ",")
	for i, s := range servers {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return "(NATS_URL not valid)"
		}
		u.User = nil
		servers[i] = u.String()
	}
	return strings.Join(servers, ",")
}

// NewRelay returns the relay of the open database's outbox, woken by sig.
func NewRelay(db *database.DB, s store, b Broker, sig *Signal, cfg config.Config, log *zap.Logger) *Relay {
	// A batch takes the pending events of every part, up to 500 on PostgreSQL.
	opts := RelayOptions{Batch: 500, Poll: time.Second, Linger: 20 * time.Millisecond, Retention: cfg.EventRetention, PruneEvery: time.Minute}
	var listen *pgxpool.Pool
	switch db.Engine {
	case database.Postgres:
		listen = db.Pool
	case database.MongoDB:
		// No notifications either, and a look costs a query per outbox collection.
		opts.Poll = 200 * time.Millisecond
		opts.Batch = 100
	case database.SQLite:
		// Without notifications, a short poll: one look past the mark in the primary key.
		opts.Poll = 100 * time.Millisecond
		opts.Batch = 100
	}
	r := newRelay(s, b, log.Named("events"), opts, listen)
	r.signal = sig.woken()
	return r
}

// FeedParams are the inputs of NewFeed.
type FeedParams struct {
	fx.In
	Identity      *identity.Resolver
	Subscriptions []Subscription `group:"event_subscriptions"`
}

// NewFeed returns the changes feed and the dead letters' handler.
func NewFeed(p FeedParams, s store) *Feed {
	return &Feed{store: s, identity: p.Identity, subs: p.Subscriptions}
}
