"""What proves a peer belongs to this Flink cluster: its per-application secret and the handshake over it."""
