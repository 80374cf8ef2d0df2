//! The `#[sqlx_test]` attribute of migrate-once. Use it as
//! `#[migrate_once::sqlx_test]` (features `sqlx-0_8` or `sqlx-0_9` of
//! `migrate-once`), where it is documented; this crate only rewrites the
//! test function, and the code it writes calls into `migrate_once`.
//!
//! The expansion names no crate but `migrate_once` (and `core`): the sqlx
//! version is the one of the types in the test's signature, picked by trait
//! impls in `migrate_once`, so one attribute serves sqlx 0.8 and 0.9 even
//! when both features are on.

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, Meta, Token};

/// `#[sqlx::test]` for SQLite and Postgres, with a copy of a migrated
/// template per test instead of running every migration into a new
/// database. Documented as `migrate_once::sqlx_test`.
#[proc_macro_attribute]
pub fn sqlx_test(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let item = TokenStream::from(item);
    match expand(args.into(), item.clone()) {
        Ok(out) => out.into(),
        Err(e) => {
            // The function as written goes out with the error, so that a
            // mistake in the attribute is the only error shown.
            let error = e.to_compile_error();
            quote!(#error #item).into()
        }
    }
}

/// What the attribute's arguments ask for.
#[derive(Debug, Default)]
struct Args {
    migrations: Migrations,
    /// `(path, span)` of each fixture file, relative to the test's source
    /// file, in the order they are applied.
    fixtures: Vec<(String, Span)>,
    /// An in-memory database instead of a file (`in_memory`); `file`, the
    /// default, is still taken.
    in_memory: bool,
    /// `file` was written.
    file: bool,
}

impl Args {
    fn is_default(&self) -> bool {
        self.migrations == Migrations::Default
            && self.fixtures.is_empty()
            && !self.in_memory
            && !self.file
    }
}

#[derive(Debug, Default, PartialEq)]
enum Migrations {
    /// `migrations/` of the crate, if it is a directory (sqlx's default).
    #[default]
    Default,
    /// `migrations = "dir"`, relative to the crate's `Cargo.toml`.
    Dir(String),
    /// `migrations = false`.
    Off,
    /// `migrator = "path::TO_MIGRATOR"`.
    Migrator(String),
}

const EXPECTED: &str = "expected `migrations = \"<dir>\"`, `migrations = false`, \
     `migrator = \"<path to a sqlx Migrator>\"`, `fixtures(\"<name>\", ...)`, \
     `fixtures(path = \"<dir>\", scripts(\"<name>\", ...))`, `in_memory` or `file`";

const SIGNATURES: &str = "it takes, as `#[sqlx::test]` does, one of: \
     `SqlitePool`, `PoolConnection<Sqlite>`, `(SqlitePoolOptions, SqliteConnectOptions)`; \
     `PgPool`, `PoolConnection<Postgres>`, `(PgPoolOptions, PgConnectOptions)`; \
     or no argument; or a `SqliteConnection` or `PgConnection`";

fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let input: ItemFn = syn::parse2(item)?;
    let args = parse_args(args)?;

    if let Some(receiver) = input.sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "a test is a free function, not a method",
        ));
    }
    let arity = input.sig.inputs.len();
    if arity > 2 {
        return Err(syn::Error::new_spanned(
            &input.sig.inputs,
            format!("`#[migrate_once::sqlx_test]` does not take {arity} arguments: {SIGNATURES}"),
        ));
    }
    if arity == 0 && !args.is_default() {
        return Err(syn::Error::new(
            Span::call_site(),
            "`migrations`, `migrator`, `fixtures`, `in_memory` and `file` need a database argument \
             (a `SqlitePool`, say): a test without one gets no database",
        ));
    }

    let attrs = &input.attrs;
    let name = &input.sig.ident;
    let output = &input.sig.output;
    let inputs = &input.sig.inputs;
    let body = &input.block;
    let runtime = quote!(::migrate_once::__sqlx_test);

    if arity == 0 {
        return Ok(quote! {
            #(#attrs)*
            #[::core::prelude::v1::test]
            fn #name() #output {
                async fn #name() #output #body
                #runtime::block_on(#name())
            }
        });
    }

    if matches!(args.migrations, Migrations::Default | Migrations::Dir(_)) {
        check_sqlx_toml()?;
    }
    let migrations = match &args.migrations {
        Migrations::Default => quote! {
            #runtime::Source::Default(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/migrations"))
        },
        Migrations::Dir(dir) => quote! {
            #runtime::Source::Dir(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #dir))
        },
        Migrations::Off => quote!(#runtime::Source::None),
        Migrations::Migrator(path) => {
            let path: syn::Path = syn::parse_str(path)
                .map_err(|e| syn::Error::new(e.span(), format!("`migrator` is not a path: {e}")))?;
            quote_spanned!(path.span()=> #runtime::Source::migrator(&#path))
        }
    };
    let fixtures = args.fixtures.iter().map(|(path, span)| {
        quote_spanned! {*span=>
            #runtime::Fixture { path: #path, contents: ::core::include_str!(#path) }
        }
    });
    let in_memory = args.in_memory;
    // A test that is meant to panic keeps no database when it does.
    let keep = !attrs.iter().any(|a| a.path().is_ident("should_panic"));
    // Outside `cargo test` (a doctest, a `cargo check` of the crate), a
    // `#[test]` function is not compiled at all; this checks the signature
    // there too, so that an unsupported one is an error wherever it is
    // written. Under `cargo test`, `run_test` checks it.
    let holes: Vec<TokenStream> = inputs.iter().map(|_| quote!(_)).collect();
    let cfgs = attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let check = quote_spanned! {inputs.span()=>
        #(#cfgs)*
        #[cfg(not(test))]
        const _: () = {
            #[allow(unused, clippy::all)]
            fn #name(#inputs) {}
            #[allow(unused)]
            fn check() {
                let signature: fn(#(#holes),*) = #name;
                #runtime::check_signature(signature);
            }
        };
    };

    // Spanned on the arguments: a signature no impl takes is reported there.
    let run = quote_spanned! {inputs.span()=>
        let test: fn(#(#holes),*) -> _ = #name;
        #runtime::TestFn::run_test(test, args)
    };

    Ok(quote! {
        #check
        #(#attrs)*
        #[::core::prelude::v1::test]
        fn #name() #output {
            async fn #name(#inputs) #output #body
            let args = #runtime::Args {
                test_path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                migrations: #migrations,
                fixtures: &[#(#fixtures),*],
                in_memory: #in_memory,
                keep_on_panic: #keep,
            };
            #run
        }
    })
}

fn parse_args(tokens: TokenStream) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut args = Args::default();
    let mut migrations_given = false;
    for meta in metas {
        match &meta {
            Meta::List(list) if list.path.is_ident("fixtures") => {
                let found = fixtures.parse2(list.tokens.clone())?;
                args.fixtures.extend(found);
            }
            Meta::NameValue(nv)
                if nv.path.is_ident("migrations") || nv.path.is_ident("migrator") =>
            {
                if migrations_given {
                    return Err(syn::Error::new_spanned(
                        &meta,
                        "only one `migrations` or `migrator` argument",
                    ));
                }
                migrations_given = true;
                args.migrations = match (nv.path.is_ident("migrator"), literal(&nv.value)) {
                    (true, Some(Lit::Str(s))) => Migrations::Migrator(s.value()),
                    (true, _) => {
                        return Err(syn::Error::new_spanned(
                            &nv.value,
                            "expected a string naming a `sqlx::migrate::Migrator`: \
                             `migrator = \"crate::MIGRATOR\"`",
                        ));
                    }
                    (false, Some(Lit::Bool(b))) if !b.value => Migrations::Off,
                    (false, Some(Lit::Bool(b))) => {
                        return Err(syn::Error::new_spanned(
                            b,
                            "`migrations = true` is the default: leave it out",
                        ));
                    }
                    (false, Some(Lit::Str(s))) => Migrations::Dir(migrations_dir(s)?),
                    (false, _) => {
                        return Err(syn::Error::new_spanned(
                            &nv.value,
                            "expected a directory (`migrations = \"migrations\"`) or `false`",
                        ));
                    }
                };
            }
            Meta::Path(path) if path.is_ident("file") || path.is_ident("in_memory") => {
                if args.file || args.in_memory {
                    return Err(syn::Error::new_spanned(
                        path,
                        "only one of `file` (the default) and `in_memory`",
                    ));
                }
                if path.is_ident("file") {
                    args.file = true;
                } else {
                    args.in_memory = true;
                }
            }
            other => return Err(syn::Error::new_spanned(other, EXPECTED)),
        }
    }
    Ok(args)
}

/// A literal, through the invisible groups a `macro_rules!` caller adds.
fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// A migrations directory as sqlx takes it: relative to the crate's
/// `Cargo.toml`, and there at compile time.
fn migrations_dir(dir: &LitStr) -> syn::Result<String> {
    let value = dir.value();
    if Path::new(&value).is_absolute() {
        return Err(syn::Error::new_spanned(
            dir,
            "an absolute path works on this machine only: give the directory \
             relative to the crate's Cargo.toml",
        ));
    }
    if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let full = Path::new(&manifest).join(&value);
        if !full.is_dir() {
            return Err(syn::Error::new_spanned(
                dir,
                format!("no migrations directory at {}", full.display()),
            ));
        }
    }
    Ok(value)
}

/// sqlx 0.9 reads `sqlx.toml` for the default migrations directory, the
/// ledger's table and characters its checksums ignore. The attribute reads
/// the directory itself and writes `_sqlx_migrations` with SHA-384 of each
/// file, so a `sqlx.toml` that changes any of these would give the app's own
/// migrator a ledger it disagrees with: say so at compile time instead.
fn check_sqlx_toml() -> syn::Result<()> {
    let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return Ok(());
    };
    let Ok(text) = std::fs::read_to_string(Path::new(&manifest).join("sqlx.toml")) else {
        return Ok(());
    };
    match sqlx_toml_setting(&text) {
        None => Ok(()),
        Some(setting) => Err(syn::Error::new(
            Span::call_site(),
            format!(
                "sqlx.toml sets `{setting}`, which the attribute's own reading of \
                 `migrations/` does not follow: pass the app's migrator instead, \
                 `migrator = \"MIGRATOR\"` with \
                 `static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();`"
            ),
        )),
    }
}

/// The first setting of a `sqlx.toml` that changes how sqlx reads or
/// records migrations, if any (a line that sets it, comments aside).
fn sqlx_toml_setting(text: &str) -> Option<&'static str> {
    let settings = ["migrations-dir", "table-name", "ignored-chars"];
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .find_map(|line| {
            settings.into_iter().find(|s| {
                line.strip_prefix(s)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
}

/// The files of one `fixtures(...)`: `("a", "b")` under `fixtures/`, paths
/// with a directory as they are, or `(path = "dir", scripts("a", "b"))`;
/// `.sql` is added to a name without an extension.
fn fixtures(input: ParseStream) -> syn::Result<Vec<(String, Span)>> {
    if input.peek(LitStr) {
        let names = Punctuated::<LitStr, Token![,]>::parse_terminated(input)?;
        let explicit = |s: &LitStr| Path::new(&s.value()).components().count() > 1;
        let first_explicit = names.first().map(explicit);
        let mut out = Vec::new();
        for name in &names {
            if Some(explicit(name)) != first_explicit {
                return Err(syn::Error::new_spanned(
                    name,
                    "either every fixture is a name under `fixtures/` or every one \
                     is a path with its directory; not both in one `fixtures(...)`",
                ));
            }
            let value = name.value();
            let path = if explicit(name) {
                value
            } else {
                format!("fixtures/{}", with_sql_extension(&value))
            };
            out.push((path, name.span()));
        }
        return Ok(out);
    }
    let key: syn::Ident = input.parse()?;
    if key != "path" {
        return Err(syn::Error::new_spanned(
            key,
            "expected fixture names (`fixtures(\"users\")`) or \
             `fixtures(path = \"<dir>\", scripts(\"<name>\", ...))`",
        ));
    }
    input.parse::<Token![=]>()?;
    let dir: LitStr = input.parse()?;
    input.parse::<Token![,]>()?;
    let scripts: syn::Ident = input.parse()?;
    if scripts != "scripts" {
        return Err(syn::Error::new_spanned(
            scripts,
            "expected `scripts(\"<name>\", ...)` after `path`",
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    if !input.is_empty() {
        return Err(input.error("nothing may follow `scripts(...)`"));
    }
    Ok(names
        .iter()
        .map(|name| {
            let path = format!(
                "{}/{}",
                dir.value().trim_end_matches('/'),
                with_sql_extension(&name.value())
            );
            (path, name.span())
        })
        .collect())
}

fn with_sql_extension(name: &str) -> String {
    if Path::new(name).extension().is_some() {
        name.to_string()
    } else {
        format!("{name}.sql")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tokens: &str) -> syn::Result<Args> {
        parse_args(tokens.parse().unwrap())
    }

    fn paths(args: &Args) -> Vec<&str> {
        args.fixtures.iter().map(|(p, _)| p.as_str()).collect()
    }

    fn error(tokens: &str) -> String {
        args(tokens).unwrap_err().to_string()
    }

    fn expand_error(args: &str, item: &str) -> String {
        expand(args.parse().unwrap(), item.parse().unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn no_argument_is_the_crates_migrations_directory_and_no_fixture() {
        assert!(args("").unwrap().is_default());
    }

    #[test]
    fn fixture_names_are_files_under_fixtures_with_sql_added() {
        let a = args(r#"fixtures("users", "posts.sql")"#).unwrap();
        assert_eq!(paths(&a), ["fixtures/users.sql", "fixtures/posts.sql"]);
    }

    #[test]
    fn fixture_paths_with_a_directory_are_taken_as_they_are() {
        let a = args(r#"fixtures("../fixtures/users.sql", "../more/posts")"#).unwrap();
        assert_eq!(paths(&a), ["../fixtures/users.sql", "../more/posts"]);
    }

    #[test]
    fn fixture_names_and_paths_do_not_mix_in_one_list() {
        assert!(error(r#"fixtures("users", "../x/posts.sql")"#).contains("not both"));
    }

    #[test]
    fn path_and_scripts_join_the_directory_and_each_name() {
        let a = args(r#"fixtures(path = "../data/", scripts("users", "posts.sql"))"#).unwrap();
        assert_eq!(paths(&a), ["../data/users.sql", "../data/posts.sql"]);
    }

    #[test]
    fn several_fixtures_lists_apply_in_the_order_written() {
        let a = args(r#"fixtures("a"), migrations = false, fixtures(path = "d", scripts("b"))"#)
            .unwrap();
        assert_eq!(paths(&a), ["fixtures/a.sql", "d/b.sql"]);
        assert_eq!(a.migrations, Migrations::Off);
    }

    #[test]
    fn scripts_without_path_and_unknown_fixture_keys_are_refused() {
        assert!(error(r#"fixtures(scripts("a"))"#).contains("expected fixture names"));
        assert!(error(r#"fixtures(path = "d", files("a"))"#).contains("expected `scripts"));
    }

    #[test]
    fn migrations_take_a_directory_or_false() {
        // The macros crate's own directory is there at compile time.
        assert_eq!(
            args(r#"migrations = "src""#).unwrap().migrations,
            Migrations::Dir("src".into())
        );
        assert_eq!(
            args("migrations = false").unwrap().migrations,
            Migrations::Off
        );
        assert!(error("migrations = true").contains("is the default"));
        assert!(error("migrations = 3").contains("expected a directory"));
        assert!(error(r#"migrations = "no/such/dir""#).contains("no migrations directory at"));
        assert!(error(r#"migrations = "/abs""#).contains("absolute path"));
    }

    #[test]
    fn migrator_takes_a_path_in_a_string() {
        assert_eq!(
            args(r#"migrator = "crate::MIGRATOR""#).unwrap().migrations,
            Migrations::Migrator("crate::MIGRATOR".into())
        );
        assert!(error("migrator = MIGRATOR").contains("expected a string naming"));
        assert!(error(r#"migrator = "M", migrations = false"#).contains("only one `migrations`"));
    }

    #[test]
    fn in_memory_asks_for_memory_file_is_the_default_and_anything_else_is_refused() {
        assert!(args("in_memory").unwrap().in_memory);
        let file = args("file").unwrap();
        assert!(file.file && !file.in_memory);
        assert!(error("file, in_memory").contains("only one of"));
        let e = error(r#"database = "x""#);
        assert!(e.contains("expected `migrations"), "{e}");
    }

    #[test]
    fn a_test_without_a_database_takes_no_database_arguments() {
        let e = expand_error("migrations = false", "async fn t() {}");
        assert!(e.contains("need a database argument"), "{e}");
    }

    #[test]
    fn three_arguments_and_methods_are_refused_naming_the_signatures() {
        let e = expand_error("", "async fn t(a: A, b: B, c: C) {}");
        assert!(
            e.contains("does not take 3 arguments") && e.contains("SqlitePool"),
            "{e}"
        );
        let e = expand_error("", "async fn t(&self) {}");
        assert!(e.contains("not a method"), "{e}");
    }

    #[test]
    fn the_expansion_names_only_migrate_once_and_core() {
        let out = expand(
            r#"fixtures("users")"#.parse().unwrap(),
            "async fn t(pool: SqlitePool) -> Result<(), E> { Ok(()) }"
                .parse()
                .unwrap(),
        )
        .unwrap()
        .to_string();
        // A path from the root is a `::` that follows no name (nor `>`).
        let tokens: Vec<&str> = out.split_whitespace().collect();
        let roots: Vec<&str> = (0..tokens.len() - 1)
            .filter(|&i| tokens[i] == "::")
            .filter(|&i| {
                i == 0
                    || !(tokens[i - 1].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                        || tokens[i - 1] == ">")
            })
            .map(|i| tokens[i + 1])
            .collect();
        assert!(
            roots.contains(&"migrate_once") && roots.contains(&"core"),
            "{out}"
        );
        for root in roots {
            assert!(root == "migrate_once" || root == "core", "{root} in {out}");
        }
        assert!(out.contains("keep_on_panic : true"), "{out}");
    }

    #[test]
    fn a_sqlx_toml_that_changes_migrations_is_noticed_and_one_that_does_not_is_not() {
        assert_eq!(
            sqlx_toml_setting("[migrate]\ntable-name = \"ledger\""),
            Some("table-name")
        );
        assert_eq!(
            sqlx_toml_setting("[migrate]\nignored-chars = [\"\\r\"]  # CRLF"),
            Some("ignored-chars")
        );
        assert_eq!(
            sqlx_toml_setting("[migrate]\nmigrations-dir=\"db\""),
            Some("migrations-dir")
        );
        assert_eq!(
            sqlx_toml_setting("# table-name = \"x\"\n[common]\ndatabase-url-var = \"X\""),
            None
        );
    }

    #[test]
    fn a_should_panic_test_keeps_no_database() {
        let out = expand(
            "".parse().unwrap(),
            "#[should_panic] async fn t(pool: SqlitePool) {}"
                .parse()
                .unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("keep_on_panic : false"), "{out}");
    }
}
