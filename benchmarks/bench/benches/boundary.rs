//! The plugin boundary: each policy's decision on the 32-ally "end NATO Mission Iraq" request,
//! called linked in (`Policy::default().decide(&request)` through the rlib) and through the
//! release-built shared library loaded by the real host (`PolicyLibrary::decide`: encode the
//! request, call across the C ABI, the plugin decodes, decides and encodes, the host decodes).
//!
//! `cargo bench -p accord-bench --bench boundary`
//!
//! Per policy, three functions:
//! - `linked`: the rlib call, the baseline;
//! - `library`: the whole library path (target: at most 1.3 × `linked`);
//! - `library_bytes`: `decide_bytes` on a request encoded once, the response left undecoded —
//!   the host-side protobuf work taken out, to show where the difference goes.

use std::hint::black_box;
use std::time::Duration;

use accord_bench::{end_nmi_request, release_library, same_decision, with_parameters};
use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::prost::Message;
use accord_policy_sdk::proto::DecisionRequest;
use criterion::{Criterion, criterion_group, criterion_main};

fn case(
    c: &mut Criterion,
    label: &str,
    library_name: &str,
    policy: &dyn DecisionPolicy,
    request: &DecisionRequest,
    measurement: Duration,
) {
    let library = release_library(library_name);
    // The two paths must decide the same thing, or the comparison means nothing (a stale or
    // different library, say).
    let linked = policy.decide_message(request).expect("linked-in decision");
    let loaded = library.decide(request).expect("library decision");
    assert!(
        same_decision(&linked, &loaded),
        "{label}: the library at {} decides differently from the linked-in policy: is it stale?",
        library.source().display()
    );
    eprintln!("{label}: library {}", library.source().display());

    let bytes = request.encode_to_vec();
    let mut group = c.benchmark_group(format!("boundary/{label}"));
    group.measurement_time(measurement);
    group.bench_function("linked", |b| {
        b.iter(|| policy.decide_message(black_box(request)).unwrap())
    });
    group.bench_function("library", |b| {
        b.iter(|| library.decide(black_box(request)).unwrap())
    });
    group.bench_function("library_bytes", |b| {
        b.iter(|| library.decide_bytes(black_box(&bytes)).unwrap())
    });
    group.finish();
}

fn boundary(c: &mut Criterion) {
    let request = end_nmi_request();
    let short = Duration::from_secs(3);
    case(
        c,
        "unanimity",
        "accord_unanimity",
        &accord_unanimity::Unanimity,
        &request,
        short,
    );
    case(
        c,
        "weighted",
        "accord_weighted",
        &accord_weighted::WeightedPolicy,
        &request,
        short,
    );
    // Default parameters: 100,000 Monte Carlo trials on one thread (30–50 ms a call here).
    case(
        c,
        "pressure",
        "accord_pressure",
        &accord_pressure::PressurePolicy,
        &request,
        Duration::from_secs(8),
    );
    // 1,000 trials: a cheap call, so that the boundary's cost is visible.
    case(
        c,
        "pressure_1k_trials",
        "accord_pressure",
        &accord_pressure::PressurePolicy,
        &with_parameters(request.clone(), &[("trials", "1000")]),
        short,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1));
    targets = boundary
}
criterion_main!(benches);
