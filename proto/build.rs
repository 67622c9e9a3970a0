//! Compiles `accord/v1/*.proto` with protox (no `protoc` needed) and tonic-prost-build, and writes
//! the encoded file descriptor set to `OUT_DIR` for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let mut files: Vec<PathBuf> = fs::read_dir(proto_dir.join("accord/v1"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|ext| ext == "proto"));
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let fds = protox::compile(&files, [&proto_dir])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("accord_v1_descriptor.bin"),
        fds.encode_to_vec(),
    )?;

    // Type names (`prost::Name`) let `accord_proto::json` find each message's descriptor.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    // Decisions encode to the same bytes every time (issue 10): their maps are ordered.
    config.btree_map([
        ".accord.v1.Decision.metrics",
        ".accord.v1.MemberResult.metrics",
    ]);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
