package domain

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// FieldError says why one field is invalid.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists the fields that break the rules.
type ValidationError struct {
	Fields []FieldError
}

// Error implements error.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "invalid user: " + strings.Join(parts, "; ")
}

func (e *ValidationError) check(field, message string) {
	if message != "" {
		e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// NotFoundError says no user has the id.
type NotFoundError struct {
	ID uuid.UUID
}

// Error implements error with the tutorial's message.
func (e *NotFoundError) Error() string { return fmt.Sprintf("User %s not found", e.ID) }

// Field names a unique attribute of a user.
type Field string

// The unique fields of a user.
const (
	FieldEmail    Field = "email"
	FieldUsername Field = "username"
)

// AlreadyExistsError says another user already has the email or username.
type AlreadyExistsError struct {
	Field Field
	Value string
}

// Error implements error with the tutorial's message.
func (e *AlreadyExistsError) Error() string {
	return fmt.Sprintf("User with %s %s already exists", e.Field, e.Value)
}
