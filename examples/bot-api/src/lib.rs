//! The botops.dev API.
