//! `migrate-once stress --database-url URL` (or `--postgres`): the shared,
//! racing and SIGKILL scenarios on a Postgres server. The run works in a
//! temporary database of its own (or, when the role may not create
//! databases, in schemas of the URL's database); each round migrates a new
//! schema of it (`Migrator::schema`, `SharedDbBuilder::schema`), which is
//! what the migrator's lock is per, and costs a millisecond where a new
//! database costs a few hundred.
//!
//! What the run counts, and why twice. The callers' reports say who
//! applied what, and the crate's ledger what committed; neither sees a
//! body that ran and was rolled back, which is what a broken lock does
//! first (two sessions run migration 1, the second fails on its ledger
//! row or on `pg_type_typname_nsp_index`, and rolls back). So the run
//! migrates a copy of the set in which each migration ends with two
//! statements of its own: an `INSERT` into a table `executions` of the
//! run's counters schema (transactional: what committed) and a `nextval`
//! of its sequence `bodies` (not transactional: every body that ran to its
//! end, rolled back or not). The copy's SQL is the set's with those lines
//! after it, so a failure names the same statement and line; errors name
//! the set's files again before they are printed.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use migrate_once::postgres::{Migrator, SharedDb, ledger};
use migrate_once::{Error, Migration, Migrations};
use postgres::{Client, NoTls};

use super::{
    Failure, Options, Tally, bar, child_failure, report_child_error, scrub, summary, wait_for,
};
use crate::out::{errln, outln};
use crate::pg::{Scratch, Server, chain, ident};

/// The environment variables that hand a child its database's URL (not an
/// argument: a URL may hold a password, and arguments are public), the
/// round's schema and the counters' schema.
const CHILD_URL: &str = "MIGRATE_ONCE_STRESS_URL";
const CHILD_SCHEMA: &str = "MIGRATE_ONCE_STRESS_SCHEMA";
const CHILD_COUNTERS: &str = "MIGRATE_ONCE_STRESS_COUNTERS";

/// The set as the run migrates it: each migration followed by its counter,
/// which records the schema being migrated (the migrator's `search_path`).
fn counted(set: &Migrations, counters: &str) -> Result<Migrations, Error> {
    let c = ident(counters);
    let list = set
        .iter()
        .map(|m| {
            // A `;` of its own first: the set's last statement may lack
            // one, or end in a line comment.
            let up = format!(
                "{}\n;\nINSERT INTO {c}.executions (schema, version) VALUES (current_schema(), {v});\n\
                 SELECT nextval('{c}.bodies');\n",
                m.up_sql(),
                v = m.version()
            );
            Migration::new(m.version(), m.name(), up)
        })
        .collect();
    Ok(Migrations::new(list)?.with_app_ledgers(set.app_ledgers().iter().copied()))
}

/// A failure, with the set's files named where the copy's say
/// `<built in code>`.
fn failure(set: &Migrations, e: &Error) -> Failure {
    let restore = |text: String| {
        set.iter().fold(text, |text, m| {
            let prefix = format!("migration {} ({}) in ", m.version(), m.name());
            text.replace(
                &format!("{prefix}<built in code>"),
                &format!("{prefix}{}", m.origin()),
            )
        })
    };
    Failure {
        kind: restore(summary(e)),
        whole: restore(scrub(&format!("{e:?}"))),
    }
}

/// Where the run works: the scratch database, and the counters in it.
struct Run {
    scratch: Scratch,
    /// The counters' schema; each round's schema is `<counters>_<n>`.
    counters: String,
    /// The set with its counters.
    counted: Migrations,
}

/// What a round's schema holds: ledger versions, committed bodies per
/// version, bodies run (committed or not) since `bodies_before`,
/// relations in the schema.
struct Counts {
    ledger: Vec<i64>,
    committed: Vec<(i64, i64)>,
    bodies: i64,
    relations: i64,
}

impl Run {
    fn connect(&self) -> Result<Client, Failure> {
        self.scratch.connect().map_err(Failure::says)
    }

    /// The `bodies` sequence now.
    fn bodies(&self) -> Result<i64, Failure> {
        let mut client = self.connect()?;
        client
            .query_one(
                &format!(
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}.bodies",
                    ident(&self.counters)
                ),
                &[],
            )
            .map(|r| r.get(0))
            .map_err(|e| Failure::says(chain(&e)))
    }

    fn counts(&self, schema: &str, bodies_before: i64) -> Result<Counts, Failure> {
        let mut client = self.connect()?;
        let says = |e: postgres::Error| Failure::says(chain(&e));
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                &[&schema],
            )
            .map_err(says)?
            .get(0);
        let ledger = if exists {
            client
                .batch_execute(&format!("SET search_path TO {}", ident(schema)))
                .map_err(says)?;
            ledger(&mut client)
                .map_err(|e| Failure::says(format!("{e:?}")))?
                .iter()
                .map(|r| r.version)
                .collect()
        } else {
            Vec::new()
        };
        let committed = client
            .query(
                &format!(
                    "SELECT version, count(*) FROM {}.executions WHERE schema = $1 \
                     GROUP BY version ORDER BY 1",
                    ident(&self.counters)
                ),
                &[&schema],
            )
            .map_err(says)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let relations = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
                &[&schema],
            )
            .map_err(says)?
            .get(0);
        drop(client);
        Ok(Counts {
            ledger,
            committed,
            bodies: self.bodies()? - bodies_before,
            relations,
        })
    }

    /// Drops a round's schema (in a scratch database it would go with the
    /// database; in the URL's own it must not stay).
    fn drop_schema(&self, schema: &str) {
        if let Ok(mut client) = self.connect() {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(schema)));
        }
    }
}

/// Checks a raced round: the whole ledger, each body committed once, and
/// no body run more than once (not even in a transaction rolled back); adds
/// what committed to `t.executed`. `reported`: what the callers' reports
/// say they applied, which must agree.
fn check_raced(t: &mut Tally, set: &Migrations, counts: Result<Counts, Failure>, reported: usize) {
    t.expected += set.len();
    let c = match counts {
        Ok(c) => c,
        Err(f) => return t.fail(f),
    };
    let once: Vec<(i64, i64)> = set.iter().map(|m| (m.version(), 1)).collect();
    let all: Vec<i64> = set.iter().map(Migration::version).collect();
    let committed: i64 = c.committed.iter().map(|(_, n)| n).sum();
    t.executed += usize::try_from(committed).unwrap_or(0);
    if c.ledger != all {
        t.fail(Failure::says(format!(
            "the ledger holds {} of {} migrations",
            c.ledger.len(),
            set.len()
        )));
    }
    if c.committed != once {
        t.fail(Failure::says(format!(
            "bodies committed per version: {:?}, want one each",
            c.committed
        )));
    }
    if c.bodies != committed {
        t.fail(Failure::says(format!(
            "{} bodies ran for {committed} committed: a body ran in a transaction that was \
             rolled back (two callers migrated at once)",
            c.bodies
        )));
    }
    if reported != set.len() {
        t.fail(Failure::says(format!(
            "the callers report {reported} migrations applied, want {}",
            set.len()
        )));
    }
}

/// Scenario: R rounds of T threads, each round on a new schema.
fn shared(o: &Options, run: &Run, set: &Migrations) -> Tally {
    let pb = bar(o, o.rounds, "shared db");
    let mut t = Tally::default();
    for r in 0..o.rounds {
        let schema = format!("{}_shared_{r}", run.counters);
        let before = match run.bodies() {
            Ok(n) => n,
            Err(f) => {
                t.fail(f);
                break;
            }
        };
        // Not `run` itself: the scratch holds a client, which no thread
        // may share.
        let (url, counted) = (run.scratch.url(), &run.counted);
        let barrier = Barrier::new(o.threads);
        let results: Vec<(Duration, Result<usize, Error>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..o.threads)
                .map(|i| {
                    let (barrier, schema) = (&barrier, &schema);
                    s.spawn(move || {
                        // Connected before the start, so that the callers
                        // race for the lock, not for connections.
                        let client = Client::connect(url, NoTls);
                        barrier.wait();
                        let started = Instant::now();
                        let applied = match client {
                            Err(e) => Err(Error::Postgres {
                                context: "connect to the server",
                                database: "a database of this run".into(),
                                source: std::sync::Arc::new(e),
                            }),
                            Ok(_) if i % 2 == 0 => SharedDb::builder(url)
                                .schema(schema.as_str())
                                .open(counted)
                                .map(|db| db.report().map_or(0, |r| r.applied.len())),
                            Ok(mut client) => Migrator::new(counted)
                                .schema(schema.as_str())
                                .migrate(&mut client)
                                .map(|r| r.applied.len()),
                        };
                        (started.elapsed(), applied)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let mut reported = 0;
        for (took, result) in results {
            t.ops += 1;
            t.latencies.push(took);
            match result {
                Ok(n) => reported += n,
                Err(e) => t.fail(failure(set, &e)),
            }
        }
        check_raced(&mut t, set, run.counts(&schema, before), reported);
        run.drop_schema(&schema);
        pb.inc();
    }
    pb.finish();
    t
}

/// Scenario: R rounds of P processes, each round on a new schema.
fn processes(o: &Options, run: &Run, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(o, o.rounds, "racing processes");
    let mut t = Tally::default();
    for r in 0..o.rounds {
        let schema = format!("{}_race_{r}", run.counters);
        let before = match run.bodies() {
            Ok(n) => n,
            Err(f) => {
                t.fail(f);
                break;
            }
        };
        let go = work.join(format!("race-{r}.go"));
        let started = Instant::now();
        let children: Vec<_> = (0..o.processes)
            .map(|_| spawn_child("race", run, &schema, &go, &o.migrations))
            .collect();
        std::fs::write(&go, b"go").expect("release the children");
        let mut reported = 0;
        for child in children {
            t.ops += 1;
            let out = child.wait_with_output().expect("wait for a child");
            let text = String::from_utf8_lossy(&out.stdout);
            match text.lines().find_map(|l| l.strip_prefix("applied=")) {
                Some(n) if out.status.success() => {
                    reported += n.trim().parse::<usize>().unwrap_or(0);
                }
                _ => t.fail(child_failure(&text, out.status)),
            }
        }
        t.latencies.push(started.elapsed());
        check_raced(&mut t, set, run.counts(&schema, before), reported);
        run.drop_schema(&schema);
        pb.inc();
    }
    pb.finish();
    t
}

fn spawn_child(
    mode: &str,
    run: &Run,
    schema: &str,
    signal: &Path,
    set_dir: &Path,
) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([super::CHILD, &format!("pg-{mode}"), "-"])
        .arg(signal)
        .arg(set_dir)
        .env(CHILD_URL, run.scratch.url())
        .env(CHILD_SCHEMA, schema)
        .env(CHILD_COUNTERS, &run.counters)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn a child")
}

/// Scenario: K processes killed at instants spread over a run.
fn kills(o: &Options, run: &Run, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(o, o.kills, "SIGKILL recovery");
    let mut t = Tally::default();
    let (mut untouched, mut complete, mut rolled_back) = (0, 0, 0);
    // One run to completion measures how long a run takes from just before
    // `migrate` to the exit, so the kills can be spread over all of it.
    let span = {
        let schema = format!("{}_kill_timing", run.counters);
        let marker = work.join("kill-timing.inside");
        let child = spawn_child("kill", run, &schema, &marker, &o.migrations);
        let started = wait_for(&marker);
        let _ = child.wait_with_output();
        run.drop_schema(&schema);
        started.elapsed()
    };
    let all: Vec<i64> = set.iter().map(Migration::version).collect();
    let once: Vec<(i64, i64)> = all.iter().map(|&v| (v, 1)).collect();
    for k in 0..o.kills {
        let schema = format!("{}_kill_{k}", run.counters);
        let marker = work.join(format!("kill-{k}.inside"));
        let before = match run.bodies() {
            Ok(n) => n,
            Err(f) => {
                t.fail(f);
                break;
            }
        };
        let mut child = spawn_child("kill", run, &schema, &marker, &o.migrations);
        wait_for(&marker);
        // Instants from just before `migrate` to a little past the exit.
        std::thread::sleep(span.mul_f64(1.2 * k as f64 / o.kills.max(2) as f64));
        let _ = child.kill();
        let _ = child.wait();
        t.ops += 1;
        let started = Instant::now();
        let mut check = || -> Result<(), Failure> {
            let after_kill = run.counts(&schema, before)?;
            if after_kill.ledger.is_empty() {
                // Untouched: not a table, index or sequence in the schema,
                // the ledger's own included, and no body committed.
                if after_kill.relations != 0 || !after_kill.committed.is_empty() {
                    return Err(Failure::says(format!(
                        "after SIGKILL: no ledger, but {} relation(s) in the schema and bodies \
                         committed {:?}",
                        after_kill.relations, after_kill.committed
                    )));
                }
                untouched += 1;
            } else if after_kill.ledger != all || after_kill.committed != once {
                return Err(Failure::says(format!(
                    "after SIGKILL: a partial run: ledger {:?}, bodies committed {:?}",
                    after_kill.ledger, after_kill.committed
                )));
            } else {
                complete += 1;
            }
            // The next open finishes the job, once the killed session's
            // transaction (and its lock) is gone.
            SharedDb::builder(run.scratch.url())
                .schema(schema.as_str())
                .open(&run.counted)
                .map_err(|e| failure(set, &e))?;
            let after = run.counts(&schema, before)?;
            if after.ledger != all || after.committed != once {
                return Err(Failure::says(format!(
                    "recovery left ledger {:?}, bodies committed {:?}",
                    after.ledger, after.committed
                )));
            }
            // Bodies that ran in the killed transaction, then again.
            rolled_back += usize::try_from(after.bodies)
                .unwrap_or(0)
                .saturating_sub(all.len());
            Ok(())
        };
        t.expected += set.len();
        match check() {
            Ok(()) => t.executed += set.len(),
            Err(f) => t.fail(f),
        }
        t.latencies.push(started.elapsed());
        run.drop_schema(&schema);
        pb.inc();
    }
    pb.finish();
    t.notes.push(format!(
        "a run took {:.0} ms; {untouched} kills left the schema untouched (recovery migrated; \
         {rolled_back} bodies had run and were rolled back), {complete} complete",
        span.as_secs_f64() * 1e3
    ));
    t
}

/// `stress --database-url URL` / `--postgres`: the header, the rows, the
/// verdict.
pub(super) fn run(o: &Options, url: Option<&str>, set: &Migrations, work: &Path) -> ExitCode {
    if let Err(e) = migrate_once::postgres::check_set(set) {
        errln!("migrate-once: {e:?}");
        outln!("FAIL: the set cannot run on Postgres");
        return ExitCode::FAILURE;
    }
    let counters = format!("migrate_once_stress_{}", std::process::id());
    let made = Server::start(url).and_then(|server| {
        let scratch = Scratch::make(&server, counters.clone())?;
        let counted = counted(set, &counters).map_err(|e| format!("{e:?}"))?;
        scratch
            .connect()?
            .batch_execute(&format!(
                "CREATE SCHEMA {c};
                 CREATE TABLE {c}.executions (schema text NOT NULL, version bigint NOT NULL);
                 CREATE SEQUENCE {c}.bodies;",
                c = ident(&counters)
            ))
            .map_err(|e| format!("cannot make the counters: {}", chain(&e)))?;
        Ok((
            server,
            Run {
                scratch,
                counters,
                counted,
            },
        ))
    });
    let (server, run) = match made {
        Ok(made) => made,
        Err(why) => {
            errln!("migrate-once: no Postgres server to stress on: {why}");
            return ExitCode::FAILURE;
        }
    };
    outln!(
        "migrate-once stress: {} migrations from {} (set {}), {} threads, Postgres {} on {}, in {}",
        set.len(),
        o.migrations.display(),
        &set.hash()[..12],
        o.threads,
        server.version,
        server.name,
        scratch_name(&run.scratch),
    );
    let started = Instant::now();
    let mut results = vec![
        (
            format!("shared db ({} rounds x {} threads)", o.rounds, o.threads),
            shared(o, &run, set),
        ),
        (
            format!("processes ({} rounds x {})", o.rounds, o.processes),
            processes(o, &run, set, work),
        ),
        (
            format!("SIGKILL mid-migration ({})", o.kills),
            kills(o, &run, set, work),
        ),
    ];
    results[0].1.notes.push(
        "each round on a new schema; executed = bodies committed, by the counter; no body ran twice"
            .into(),
    );
    let code = super::table(&results, started);
    drop(run);
    code
}

/// The scratch database as the header names it.
fn scratch_name(scratch: &Scratch) -> String {
    match scratch {
        Scratch::Database(db) => format!("a temporary database ({})", db.name()),
        Scratch::Schema { .. } => {
            "schemas of the URL's database (the role may not create databases)".into()
        }
    }
}

/// A child process: `pg-race` waits for the go file and migrates;
/// `pg-kill` writes its marker just before migrating, to be killed.
pub(super) fn child(mode: &str, signal: &Path, set_dir: &Path) -> ExitCode {
    let (Ok(url), Ok(schema), Ok(counters)) = (
        std::env::var(CHILD_URL),
        std::env::var(CHILD_SCHEMA),
        std::env::var(CHILD_COUNTERS),
    ) else {
        errln!(
            "migrate-once: a Postgres stress child needs {CHILD_URL}, {CHILD_SCHEMA} and {CHILD_COUNTERS}"
        );
        return ExitCode::from(2);
    };
    let set = match Migrations::from_dir(set_dir) {
        Ok(s) => s,
        Err(e) => return report_child_error(&e),
    };
    let counted = match counted(&set, &counters) {
        Ok(c) => c,
        Err(e) => return report_child_error(&e),
    };
    let mut client = match Client::connect(&url, NoTls) {
        Ok(c) => c,
        Err(e) => {
            outln!("error=cannot connect: {}\n", chain(&e));
            return ExitCode::FAILURE;
        }
    };
    if mode == "race" {
        while !signal.exists() {
            std::thread::sleep(Duration::from_micros(200));
        }
    } else {
        let _ = std::fs::write(signal, b"inside");
    }
    match Migrator::new(&counted).schema(schema).migrate(&mut client) {
        Ok(r) => {
            outln!("applied={}", r.applied.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let f = failure(&set, &e);
            outln!("error={}\n{}", f.kind, f.whole);
            ExitCode::FAILURE
        }
    }
}
