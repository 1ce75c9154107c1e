"""The bot as a service of its own: dialers hand answered calls to bot workers over Redis."""
