//! The accord.v1 protocol: every message and service defined in `proto/accord/v1`, compiled with
//! prost and tonic. Also the encoded file descriptor set, for gRPC server reflection, and a few
//! helpers for resource names that every part of accord shares.
#![forbid(unsafe_code)]

/// Generated code for package `accord.v1`.
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("accord.v1");
}

/// The encoded `FileDescriptorSet` of every accord.v1 file (and the well-known types it imports),
/// for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/accord_v1_descriptor.bin"));

pub use prost;
pub use prost_types;

pub mod canonical;
pub mod client;
pub mod json;
pub mod names;
