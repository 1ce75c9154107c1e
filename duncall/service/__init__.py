"""The long-running services of a deployment (docker-compose.yml): the dialer's loop and the
health probes the container engine runs."""
