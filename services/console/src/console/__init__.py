"""The operator console (issue 13): a small NHS.UK-styled web app for admins. It reads only Kafka,
Prometheus, Jaeger and the services' operators' APIs, never a service's database."""
