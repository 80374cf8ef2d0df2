//! Reversibility: the crate's own migrations and the sqlx-layout fixture
//! pass; each deliberately broken down in `tests/fixtures/downs/` fails
//! with a message naming the object and how it differs; every layout the
//! crate loads is checked.

use migrate_once::{
    Change, DataCheck, Error, Migration, Migrations, Problem, Reversibility, RoundTrip,
    assert_reversible, check_reversible,
};

use crate::support::{crate_migrations, fixture};

fn downs(name: &str) -> Migrations {
    Migrations::from_dir(fixture(&format!("downs/{name}"))).expect("load the fixture")
}

/// The one failed round trip of the fixture `name`, and the message
/// `assert_reversible` panics with.
fn failure(name: &str) -> (RoundTrip, String) {
    let set = downs(name);
    let report = check_reversible(&set).expect("the fixture migrates");
    let failed: Vec<&RoundTrip> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{name}: one failed round trip: {report}");
    let trip = failed[0].clone();
    let err = report.into_result().expect_err("not reversible");
    assert!(matches!(err, Error::NotReversible { .. }), "{err:?}");
    let message = format!("{err:?}");
    println!("{name}:\n{message}\n");
    (trip, message)
}

fn assert_names(message: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            message.contains(line),
            "the message should contain {line:?}:\n{message}"
        );
    }
}

#[test]
fn the_crates_own_migrations_are_reversible_with_and_without_the_data_check() {
    let set = crate_migrations();
    let report = assert_reversible(set);
    assert_eq!(report.round_trips.len(), set.len());
    assert!(report.irreversible.is_empty());
    assert!(report.round_trips.iter().all(|t| t.data == DataCheck::Off));

    let report = Reversibility::new(set).check_data(true).assert();
    // Before 0004 (the seed), every table took a row, and 0004's down
    // deleted only its own rows: the check's rows are still there.
    let DataCheck::Ran { probed, unprobed } = &report.round_trips[3].data else {
        panic!("the data check ran: {:?}", report.round_trips[3].data);
    };
    assert_eq!(probed, &["comments", "posts", "users"]);
    assert!(unprobed.is_empty());
}

#[test]
fn the_sqlx_layout_fixture_is_reversible_and_keeps_sqlxs_ledger_in_step() {
    let set = Migrations::from_dir(fixture("shop_sqlx")).unwrap();
    assert_eq!(set.app_ledgers(), [migrate_once::AppLedger::Sqlx]);
    let report = Reversibility::new(&set).check_data(true).assert();
    assert_eq!(report.round_trips.len(), 3);
    for trip in &report.round_trips {
        assert!(
            matches!(&trip.data, DataCheck::Ran { unprobed, .. } if unprobed.is_empty()),
            "{trip}: {:?}",
            trip.data
        );
    }
}

#[test]
fn a_down_that_forgets_an_index_is_named() {
    let (trip, message) = failure("forgets_index");
    assert_eq!(trip.version, 2);
    assert!(matches!(
        trip.problems[..],
        [Problem::NotUndone(_), Problem::UpAgainFailed(_)]
    ));
    assert_names(
        &message,
        &[
            "migration 2 (index_names) in ",
            "after its down, the database is not as it was before its up:\n      index users_by_name: extra",
            "applied again after its down, its up failed:\n      migration 2 (index_names)",
            "caused by: index users_by_name already exists",
        ],
    );
}

#[test]
fn a_down_that_forgets_a_trigger_is_named() {
    let (_, message) = failure("forgets_trigger");
    assert_names(
        &message,
        &[
            "trigger users_audit: extra",
            "caused by: trigger users_audit already exists",
        ],
    );
}

#[test]
fn a_down_that_forgets_a_view_is_named() {
    let (_, message) = failure("forgets_view");
    assert_names(
        &message,
        &[
            "view active_users: extra",
            "caused by: view active_users already exists",
        ],
    );
}

#[test]
fn a_down_that_recreates_a_table_with_its_columns_in_another_order_is_named() {
    let (trip, message) = failure("column_order");
    let Problem::NotUndone(diffs) = &trip.problems[0] else {
        panic!("{trip}");
    };
    assert_eq!(
        diffs[0].change,
        Change::ColumnOrder {
            expected: vec!["id".into(), "email".into(), "name".into(), "status".into()],
            actual: vec!["id".into(), "name".into(), "email".into(), "status".into()],
        }
    );
    assert_names(
        &message,
        &[
            "table users: columns in the order (id, name, email, status), expected (id, email, name, status)",
        ],
    );
}

#[test]
fn a_down_that_recreates_a_table_with_another_default_is_named() {
    let (_, message) = failure("other_default");
    assert_names(
        &message,
        &["table users: column status: default 'pending', expected 'active'"],
    );
}

#[test]
fn a_down_that_loses_a_foreign_key_is_named() {
    let (trip, message) = failure("lost_foreign_key");
    assert_eq!(trip.version, 3);
    assert_names(
        &message,
        &["table posts: foreign key (user_id) REFERENCES users(id) ON DELETE CASCADE missing"],
    );
}

#[test]
fn a_down_that_loses_a_not_null_is_named() {
    let (_, message) = failure("lost_not_null");
    assert_names(&message, &["table users: column email: NOT NULL missing"]);
}

#[test]
fn a_down_that_drops_a_table_its_up_did_not_create_is_named() {
    let (trip, message) = failure("drops_other_table");
    assert_eq!(
        trip.problems.len(),
        1,
        "users, still missing, is not reported twice: {trip}"
    );
    assert_names(
        &message,
        &[
            "after its down, the database is not as it was before its up:\n      table users: missing",
        ],
    );
}

#[test]
fn an_up_that_seeds_rows_again_into_a_table_its_down_kept_is_not_repeatable() {
    let (trip, message) = failure("seeds_twice");
    assert_eq!(trip.version, 3);
    assert!(matches!(
        trip.problems[..],
        [Problem::NotUndone(_), Problem::NotRepeatable(_)]
    ));
    assert_names(
        &message,
        &[
            "after its down, the database is not as it was before its up:\n      table settings: 2 row(s), expected 0",
            "applied again after its down, its up gives another database than the first time:\n      \
             table settings: 4 row(s), expected 2",
        ],
    );
}

#[test]
fn the_data_check_finds_rows_a_down_lost_where_the_schema_is_the_same() {
    let set = downs("loses_rows");
    assert!(
        check_reversible(&set).unwrap().is_reversible(),
        "the schema check alone cannot see it: users is empty"
    );
    let err = Reversibility::new(&set)
        .check_data(true)
        .run()
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_names(
        &format!("{err:?}"),
        &["table users: 1 of the 1 row(s) it held before the up (and the up left alone) are gone"],
    );
}

#[test]
fn an_up_that_the_data_checks_rows_break_is_checked_without_them() {
    let set = Migrations::new(vec![
        Migration::new(1, "t", "CREATE TABLE t(x INTEGER NOT NULL);").with_down("DROP TABLE t;"),
        Migration::new(
            2,
            "big_x",
            "CREATE TABLE big(x INTEGER NOT NULL CHECK (x > 5)); INSERT INTO big SELECT x FROM t;",
        )
        .with_down("DROP TABLE big;"),
    ])
    .unwrap();
    let report = Reversibility::new(&set).check_data(true).assert();
    let DataCheck::Skipped { reason } = &report.round_trips[1].data else {
        panic!("{:?}", report.round_trips[1].data);
    };
    assert!(reason.contains("CHECK constraint failed"), "{reason}");
}

#[test]
fn a_down_that_fails_is_reported_naming_its_file_and_statement() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
    write("0001_t.sql", "CREATE TABLE t(x);\nCREATE TABLE u(y);\n");
    write("0001_t.down.sql", "DROP TABLE u;\n\nDROP TABLE nope;\n");
    let set = Migrations::from_dir(dir.path()).unwrap();
    let report = check_reversible(&set).unwrap();
    let [
        Problem::DownFailed(Error::DownSql {
            index,
            line,
            origin,
            ..
        }),
    ] = &report.round_trips[0].problems[..]
    else {
        panic!("{report}");
    };
    assert_eq!((*index, *line), (2, 3));
    assert_eq!(
        *origin,
        migrate_once::Origin::File(dir.path().join("0001_t.down.sql"))
    );
    assert_names(
        &report.to_string(),
        &[
            "its down failed:\n      the down of migration 1 (t) in ",
            "0001_t.down.sql failed at statement 2 (line 3) of an in-memory database; nothing of it was applied\n",
            "statement: DROP TABLE nope;\n",
            "caused by: no such table: nope",
        ],
    );
}

#[test]
fn a_down_that_would_end_the_transaction_is_refused() {
    let set = Migrations::new(vec![
        Migration::new(1, "t", "CREATE TABLE t(x);").with_down("DROP TABLE t; COMMIT;"),
    ])
    .unwrap();
    let report = check_reversible(&set).unwrap();
    assert!(
        matches!(
            &report.round_trips[0].problems[..],
            [Problem::DownFailed(Error::ForbiddenStatement {
                index: 2,
                ..
            })]
        ),
        "{report}"
    );
}

#[test]
fn an_up_that_fails_is_the_sets_error_not_a_finding() {
    let set = Migrations::new(vec![
        Migration::new(1, "t", "CREATE TABLE t(x);").with_down("DROP TABLE t;"),
        Migration::new(2, "bad", "INSERT INTO nope VALUES (1);").with_down("SELECT 1;"),
    ])
    .unwrap();
    let err = check_reversible(&set).unwrap_err();
    assert!(matches!(err, Error::Sql { version: 2, .. }), "{err:?}");
}

#[test]
fn migrations_without_a_down_are_listed_and_fail_only_when_downs_are_required() {
    let set = Migrations::from_dir(fixture("layouts/sqlx")).unwrap();
    let report = assert_reversible(&set);
    let versions =
        |v: &[migrate_once::Irreversible]| v.iter().map(|m| m.version).collect::<Vec<_>>();
    assert_eq!(versions(&report.irreversible), [3]);
    let err = Reversibility::new(&set)
        .require_downs(true)
        .run()
        .unwrap()
        .into_result()
        .unwrap_err();
    let Error::NotReversible {
        failed,
        without_down,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(failed.is_empty());
    assert_eq!(versions(without_down), [3]);
    assert!(
        err.to_string().starts_with(
            "migrations without a down, where one is required:\n  migration 3 (seed) in "
        ),
        "{err}"
    );
}

#[test]
fn every_layout_the_crate_loads_is_checked() {
    // (layout, versions with a down, versions without)
    let cases: [(&str, &[i64], &[i64]); 4] = [
        ("layouts/sqlx", &[1, 2], &[3]),
        ("layouts/diesel", &[1, 2], &[3]),
        ("layouts/plain", &[], &[1, 2, 10]),
        (
            "layouts/timestamp",
            &[],
            &[20_240_101_120_000, 20_240_215_093_000, 20_241_231_235_959],
        ),
    ];
    for (dir, with, without) in cases {
        let set = Migrations::from_dir(fixture(dir)).unwrap();
        let report = assert_reversible(&set);
        let got: Vec<i64> = report.round_trips.iter().map(|t| t.version).collect();
        assert_eq!(got, with, "{dir}");
        let got: Vec<i64> = report.irreversible.iter().map(|m| m.version).collect();
        assert_eq!(got, without, "{dir}");
    }
    let embedded =
        migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/tests/fixtures/shop_sqlx").unwrap();
    assert_eq!(assert_reversible(&embedded).round_trips.len(), 3);
    let embedded =
        migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/tests/fixtures/downs/forgets_view")
            .unwrap();
    let err = check_reversible(&embedded)
        .unwrap()
        .into_result()
        .unwrap_err();
    assert!(err.to_string().contains("(embedded):\n"), "{err}");
}

#[test]
fn a_migration_without_a_down_between_two_with_one_is_stepped_over() {
    let set = Migrations::new(vec![
        Migration::new(1, "a", "CREATE TABLE a(x);").with_down("DROP TABLE a;"),
        Migration::new(2, "b", "CREATE TABLE b(x); INSERT INTO a VALUES (1);"),
        Migration::new(3, "c", "CREATE TABLE c(x);").with_down("DROP TABLE c;"),
    ])
    .unwrap();
    for data in [false, true] {
        let report = Reversibility::new(&set).check_data(data).assert();
        let versions: Vec<i64> = report.round_trips.iter().map(|t| t.version).collect();
        assert_eq!(versions, [1, 3]);
        assert_eq!(report.irreversible[0].version, 2);
    }
}
