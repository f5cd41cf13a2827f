//! Criterion benches of the hot paths, in bytes per second: pattern fill per generator, the
//! writer to a file on tmpfs, and verification read-back. Figures against `dd`/`shred` on real
//! targets come from `benches/compare.sh`.

use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mediasan::aligned::AlignedBuf;
use mediasan::device::mem::MemDevice;
use mediasan::pattern::{Pattern, Prng};
use mediasan::verify;
use mediasan::writer::{run_pass, FillBudget, IoConfig};

const BUF: usize = 4 << 20;

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
        let p = Pattern::Random {
            prng,
            seed: [7; 32],
            inverted: false,
        };
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

fn pipeline(c: &mut Criterion) {
    let size = 256 << 20;
    let mut g = c.benchmark_group("pipeline-memory");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(size as u64));
    let dev = MemDevice::new(size, 4096, 0);
    let p = Pattern::Random {
        prng: Prng::ChaCha8,
        seed: [1; 32],
        inverted: false,
    };
    let cancel = AtomicBool::new(false);
    for qd in [1usize, 4] {
        let cfg = IoConfig {
            buffer_size: BUF,
            queue_depth: qd,
            budget: FillBudget::new(2),
        };
        g.bench_function(BenchmarkId::new("write-random", qd), |b| {
            b.iter(|| run_pass(&dev, &p, &cfg, &cancel, &mut |_| {}))
        });
        let full = verify::full_plan(size as u64, BUF as u64);
        g.bench_function(BenchmarkId::new("verify-full", qd), |b| {
            b.iter(|| verify::run(&dev, &full, &p, &cfg, &cancel, &mut |_| {}))
        });
    }
    g.finish();
}

criterion_group!(benches, fill, pipeline);
criterion_main!(benches);
