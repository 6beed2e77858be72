//! Owns: metrics registry, Prometheus exposition and the ops HTTP endpoint. Never: takes a
//! lock or allocates on behalf of a hot thread.
