//! Owns: thread topology, rings, wait strategies, pinning, start-up and shutdown. Never:
//! contains trading logic; it only moves messages between components.
