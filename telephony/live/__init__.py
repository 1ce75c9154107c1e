"""What is happening on the calls right now, shared between the dialer, the bot and the console."""
