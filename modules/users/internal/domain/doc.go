// Package domain holds the users module's business model: the User entity, the rules a user
// must satisfy, and the errors those rules produce. It imports only the standard library and
// the UUID package, so every rule here is tested without I/O and can never depend on how users
// are stored or served.
package domain
