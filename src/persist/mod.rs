//! Owns: the mmap journal (segments, record codec, recovery, readers). Never: runs on a hot
//! thread other than the persist thread, or blocks a producer without counting it.
