//! The Kubernetes API object model without I/O: the registry of built-in resources, discovery documents,
//! object metadata rules, selectors and table rows. Pure functions, unit-tested without a server.

pub mod defaults;
pub mod discovery;
pub mod events;
pub mod field_labels;
pub mod field_manager;
pub mod field_validation;
pub mod json_patch;
pub mod labels;
pub mod media;
pub mod openapi;
pub mod protobuf;
pub mod quantity;
pub mod quota;
pub mod registry;
pub mod status;
pub mod strategic_merge;
pub mod table;
pub mod tls;
pub mod validation;
pub mod volumes;
