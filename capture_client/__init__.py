"""Desktop capture client: records an agent's screen during selected calls and
delivers it to the callvault server over HTTP (see docs/capture-protocol.md)."""
