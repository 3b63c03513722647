//! The embedded SQLite backend (in progress).
