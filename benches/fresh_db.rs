//! What a fresh, migrated database per test costs: migrate-once's `TestDb`
//! against the obvious alternatives and the floors, all in one run.
//!
//! Sets of 10 and 100 tables are generated (see `generated_set`). Every case
//! ends with `SELECT count(*)` on the first table, which makes SQLite parse
//! the schema as a test's first statement would, and drops (deletes) the
//! database, as a test would.
//!
//! Run: `cargo bench --bench fresh_db`; `BENCH_TABLES=10` limits the sizes.
//! The peers (rusqlite_migration) pin one rusqlite each, so they are not
//! dependencies of this crate: `benches/peers` compiles this same file with
//! `cfg(migrate_once_peers)` and them in (`cargo bench --manifest-path
//! benches/peers/Cargo.toml --bench fresh_db`).

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use migrate_once::{Migration, Migrations, TestDb};
use rusqlite::Connection;

#[path = "support/mod.rs"]
mod support;
use support::{deserialize, generated_set};

fn first_statement(conn: &Connection) {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// The plain runner most projects start with: a temp file, one transaction
/// per migration (synchronous=FULL, the default).
fn naive(dir: &Path, set: &[(i64, String, String)]) {
    let path = dir.join(format!("naive-{}.sqlite", uuid::Uuid::new_v4()));
    let conn = Connection::open(&path).unwrap();
    for (_, _, sql) in set {
        conn.execute_batch(&format!("BEGIN; {sql} COMMIT;"))
            .unwrap();
    }
    first_statement(&conn);
    drop(conn);
    fs::remove_file(&path).unwrap();
}

fn bench(c: &mut Criterion) {
    let work = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = match std::env::var("BENCH_TABLES") {
        Ok(v) => v.split(',').map(|s| s.trim().parse().unwrap()).collect(),
        Err(_) => vec![10, 100],
    };

    for tables in sizes {
        let raw = generated_set(tables);
        let set = Migrations::new(
            raw.iter()
                .map(|(v, n, sql)| Migration::new(*v, n.clone(), sql))
                .collect(),
        )
        .unwrap();
        let template = migrate_once::Template::for_set(&set).unwrap();
        let bytes = template.bytes().unwrap().to_vec();
        let template_file = work.path().join(format!("template-{tables}.sqlite"));
        fs::write(&template_file, &bytes).unwrap();
        #[cfg(migrate_once_peers)]
        let rm_steps: Vec<rusqlite_migration::M<'_>> = raw
            .iter()
            .map(|(_, _, sql)| rusqlite_migration::M::up(sql))
            .collect();
        #[cfg(migrate_once_peers)]
        let rm = rusqlite_migration::Migrations::from_slice(&rm_steps);

        let mut g = c.benchmark_group(format!("fresh_db/{tables}_tables"));
        g.sample_size(if tables >= 100 { 15 } else { 30 });
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if tables >= 100 { 4 } else { 2 }));

        g.bench_function("floor: deserialize into :memory:", |b| {
            b.iter(|| {
                first_statement(&deserialize(&bytes));
            })
        });
        g.bench_function("floor: fs::copy template + open", |b| {
            b.iter(|| {
                let path = work
                    .path()
                    .join(format!("copy-{}.sqlite", uuid::Uuid::new_v4()));
                fs::copy(&template_file, &path).unwrap();
                let conn = Connection::open(&path).unwrap();
                first_statement(&conn);
                drop(conn);
                fs::remove_file(&path).unwrap();
            })
        });
        g.bench_function("TestDb::in_memory", |b| {
            b.iter(|| {
                let db = TestDb::in_memory(&set).unwrap();
                first_statement(&db.connect().unwrap());
            })
        });
        g.bench_function("TestDb::new (file)", |b| {
            b.iter(|| {
                let db = TestDb::builder(&set).dir(work.path()).file().unwrap();
                first_statement(&db.connect().unwrap());
            })
        });
        // The default directory: in memory (`/dev/shm`) where there is one.
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            let shm_work = tempfile::tempdir_in(shm).unwrap();
            g.bench_function("floor: fs::copy template + open, /dev/shm", |b| {
                b.iter(|| {
                    let path = shm_work
                        .path()
                        .join(format!("copy-{}.sqlite", uuid::Uuid::new_v4()));
                    fs::copy(&template_file, &path).unwrap();
                    let conn = Connection::open(&path).unwrap();
                    first_statement(&conn);
                    drop(conn);
                    fs::remove_file(&path).unwrap();
                })
            });
            g.bench_function("TestDb::new (file, default directory)", |b| {
                b.iter(|| {
                    let db = TestDb::new(&set).unwrap();
                    first_statement(&db.connect().unwrap());
                })
            });
        }
        g.bench_function("naive: temp file, tx per migration", |b| {
            b.iter(|| naive(work.path(), &raw))
        });
        #[cfg(migrate_once_peers)]
        g.bench_function("rusqlite_migration to_latest, :memory:", |b| {
            b.iter(|| {
                let mut conn = Connection::open_in_memory().unwrap();
                rm.to_latest(&mut conn).unwrap();
                first_statement(&conn);
            })
        });
        #[cfg(migrate_once_peers)]
        g.bench_function("rusqlite_migration to_latest, temp file", |b| {
            b.iter(|| {
                let path = work
                    .path()
                    .join(format!("rm-{}.sqlite", uuid::Uuid::new_v4()));
                let mut conn = Connection::open(&path).unwrap();
                rm.to_latest(&mut conn).unwrap();
                first_statement(&conn);
                drop(conn);
                fs::remove_file(&path).unwrap();
            })
        });
        // As under libtest, which runs each test on a new thread: the floor
        // and TestDb::in_memory, each on a thread of its own.
        g.bench_function("floor: deserialize, new thread each", |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    s.spawn(|| {
                        first_statement(&deserialize(&bytes));
                    });
                })
            })
        });
        g.bench_function("TestDb::in_memory, new thread each", |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    s.spawn(|| {
                        let db = TestDb::in_memory(&set).unwrap();
                        first_statement(&db.connect().unwrap());
                    });
                })
            })
        });
        // Throughput from 1 and 2 threads: time per database, all threads together.
        for threads in [1usize, 2] {
            g.bench_with_input(
                BenchmarkId::new("TestDb::in_memory, threads", threads),
                &threads,
                |b, &threads| {
                    b.iter_custom(|iters| {
                        let per_thread = iters.div_ceil(threads as u64);
                        let barrier = Barrier::new(threads);
                        let started = std::sync::Mutex::new(None::<Instant>);
                        std::thread::scope(|s| {
                            for _ in 0..threads {
                                s.spawn(|| {
                                    barrier.wait();
                                    started.lock().unwrap().get_or_insert_with(Instant::now);
                                    for _ in 0..per_thread {
                                        let db = TestDb::in_memory(&set).unwrap();
                                        first_statement(&black_box(db.connect().unwrap()));
                                    }
                                });
                            }
                        });
                        let start = started.into_inner().unwrap().unwrap();
                        start
                            .elapsed()
                            .mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
                    })
                },
            );
        }
        g.finish();
    }
    eprintln!(
        "SQLite memory statistics switched off by migrate-once: {}",
        migrate_once::memstatus_disabled()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
