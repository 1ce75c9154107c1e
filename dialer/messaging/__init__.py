"""Messages beyond the call: e-mail and SMS reminders, opt-outs per channel, delivery receipts.

A message is a contact like a dial: ``dialer.messaging.guard`` decides it with the same
calling calendar, the account's flags, the channel's opt-outs and caps, and writes the
decision to the guards' ledger with its channel.  Templates (``templates``) are rendered
with a strict undefined and checked like scripts; the adapters (``smtp``, ``kannel``)
are the only modules that know a wire format.
"""
