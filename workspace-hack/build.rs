// Cargo only treats a package's build-dependencies as such when it has a build script.
fn main() {}
