"""Host-side tools: the report decoder, virtual boards, flashing helpers and the HIL pytest plugin."""
