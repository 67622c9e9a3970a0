//! Build script of accord-store: rebuilds the crate when a migration changes, since
//! `sqlx::migrate!` embeds the files in `migrations/` at compile time.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
