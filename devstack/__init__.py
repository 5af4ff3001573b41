"""The local stack above the services: the service registry, the process supervisor for `make run`
and the end-to-end tests, and the `studysync` command. Nothing under services/ imports it."""
