"""The call's audio between Asterisk and the bot."""
