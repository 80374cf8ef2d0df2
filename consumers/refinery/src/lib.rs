//! The application's migrations, embedded the way refinery's docs show.

pub mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Runs every pending migration on `conn`: what the application does at
/// start-up.
pub fn migrate(conn: &mut rusqlite::Connection) -> Result<refinery::Report, refinery::Error> {
    embedded::migrations::runner().run(conn)
}
