//! Criterion benches of the hot paths, in bytes per second: pattern fill per generator, fill
//! scaling with threads, and the writer and verifier against a real file on tmpfs (/dev/shm,
//! else the temp folder). Figures against `dd`/`shred`/`nwipe` on real targets come from
//! `benches/compare.sh`.

use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mediasan::aligned::AlignedBuf;
use mediasan::device;
use mediasan::pattern::{Pattern, Prng};
use mediasan::verify;
use mediasan::writer::{run_pass, FillBudget, IoConfig};

const BUF: usize = 1 << 20;

fn random(prng: Prng) -> Pattern {
    Pattern::Random {
        prng,
        seed: [7; 32],
        inverted: false,
    }
}

fn fill(c: &mut Criterion) {
    let mut g = c.benchmark_group("fill");
    g.throughput(Throughput::Bytes(BUF as u64));
    let mut buf = AlignedBuf::new(BUF);
    for prng in [
        Prng::Aes128Ctr,
        Prng::ChaCha8,
        Prng::ChaCha12,
        Prng::ChaCha20,
    ] {
        let p = random(prng);
        let mut off = 0u64;
        g.bench_function(BenchmarkId::new("random", prng.name()), |b| {
            b.iter(|| {
                p.fill_at(&mut buf, off);
                off += BUF as u64;
            })
        });
    }
    let p = Pattern::Fixed(vec![0x92, 0x49, 0x24]);
    g.bench_function("fixed-3-byte", |b| b.iter(|| p.fill_at(&mut buf, 1)));
    g.finish();
}

/// N threads each filling their own buffers: should scale ~N x up to the core count.
fn fill_threads(c: &mut Criterion) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let per_thread = 32;
    let mut g = c.benchmark_group("fill-threads-aes128-ctr");
    for n in 1..=cores {
        g.throughput(Throughput::Bytes((n * per_thread * BUF) as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for t in 0..n {
                        s.spawn(move || {
                            let mut buf = AlignedBuf::new(BUF);
                            let p = random(Prng::Aes128Ctr);
                            for i in 0..per_thread {
                                p.fill_at(&mut buf, ((t * per_thread + i) * BUF) as u64);
                            }
                        });
                    }
                })
            })
        });
    }
    g.finish();
}

fn tmpfs_file(c: &mut Criterion) {
    let size: u64 = 256 << 20;
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    let tmp = tempfile::Builder::new()
        .prefix("mediasan-bench")
        .tempfile_in(dir)
        .expect("temp file");
    tmp.as_file().set_len(size).expect("size");
    let probe = device::probe(tmp.path()).expect("probe");
    let target = device::open(&probe).expect("open");
    let cancel = AtomicBool::new(false);
    let mut g = c.benchmark_group("tmpfs-file");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(size));
    for qd in [1usize, 4] {
        let cfg = IoConfig {
            buffer_size: BUF,
            queue_depth: qd,
            ..IoConfig::default()
        };
        g.bench_function(BenchmarkId::new("write-zero", qd), |b| {
            b.iter(|| {
                run_pass(
                    &target,
                    &Pattern::Fixed(vec![0]),
                    &cfg,
                    &cancel,
                    &mut |_| {},
                )
            })
        });
        g.bench_function(BenchmarkId::new("write-random", qd), |b| {
            b.iter(|| {
                run_pass(
                    &target,
                    &random(Prng::Aes128Ctr),
                    &cfg,
                    &cancel,
                    &mut |_| {},
                )
            })
        });
        let full = verify::full_plan(size, BUF as u64);
        g.bench_function(BenchmarkId::new("verify-full", qd), |b| {
            b.iter(|| {
                verify::run(
                    &target,
                    &full,
                    &random(Prng::Aes128Ctr),
                    &cfg,
                    &cancel,
                    &mut |_| {},
                )
            })
        });
    }
    let sampled = verify::sample_plan(size, 4096, 10, &[1; 32]);
    let cfg = IoConfig {
        buffer_size: BUF,
        queue_depth: 4,
        budget: FillBudget::new(2),
        ..IoConfig::default()
    };
    g.throughput(Throughput::Bytes(sampled.extents.bytes()));
    g.bench_function("verify-sampled-10pct", |b| {
        b.iter(|| {
            verify::run(
                &target,
                &sampled,
                &random(Prng::Aes128Ctr),
                &cfg,
                &cancel,
                &mut |_| {},
            )
        })
    });
    g.finish();
}

criterion_group!(benches, fill, fill_threads, tmpfs_file);
criterion_main!(benches);
