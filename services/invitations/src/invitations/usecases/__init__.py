"""Use cases of the invitations service, one module per feature. Each use case runs inside the
caller's unit of work; the caller (a Kafka handler, an HTTP route, a job or the CLI) commits, so one
use case is one transaction."""
